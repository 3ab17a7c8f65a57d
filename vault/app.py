"""The library's front door: identity on this machine, vault registry, opening a vault.

`Takusu` ties the keystore, the home registry and the store together; `Session`
(vault/session.py) is one opened vault. The CLI is a thin layer over these two.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import crypto, fsutil
from .envelope import wrap_vault_key
from .errors import (
    AlreadyExists,
    NotConfirmed,
    NotInitialized,
    PassphraseUnavailable,
    PinMismatch,
    SafetyCodeMismatch,
)
from .home import Home
from .identity import Card, Identity, normalize_code
from .keystore import KekBackend, KeyringKek, KeyStore, PassphraseFn, PassphraseKek, secure_keyring
from .store import Store, VaultFolder

Confirm = Callable[[str, str], bool]  # (who, safety code) -> the user says it matched
_AUTO = object()


def check_safety_code(card: Card, given: str | None, confirm: Confirm | None, who: str) -> None:
    """Go on only if the user confirmed the code, or `given` equals it. Never skipped."""
    if given is not None:
        if not crypto.equal(normalize_code(given), normalize_code(card.safety_code)):
            raise SafetyCodeMismatch(f"the safety code given does not match {who}'s card")
        return
    if confirm is None:
        raise NotConfirmed(
            f"{who}'s safety code was not confirmed",
            hint="compare it by phone or video, then pass --safety-code CODE "
            "(or run in a terminal)",
        )
    if not confirm(who, card.safety_code):
        raise NotConfirmed("not confirmed; nothing was changed")


class Takusu:
    """One machine's takusu: TAKUSU_HOME, the unlocked identity, and its vaults."""

    def __init__(
        self,
        home: Path | None = None,
        passphrase: PassphraseFn | None = None,
        keyring_backend: Any = _AUTO,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
    ) -> None:
        self.home = Home(home)
        self.keystore = KeyStore(self.home.path)
        self._passphrase = passphrase
        self._keyring = keyring_backend
        self.disk = disk
        self._identity: Identity | None = None

    # --- keystore backends --------------------------------------------------------------------

    def _keyring_backend(self) -> Any | None:
        if self._keyring is _AUTO:
            self._keyring = secure_keyring()
        return self._keyring

    def _passphrase_fn(self) -> PassphraseFn:
        if self._passphrase is None:

            def missing(confirm: bool) -> str:
                raise PassphraseUnavailable("a passphrase is needed and none was given")

            return missing
        return self._passphrase

    def backend(self, mode: str) -> KekBackend:
        if mode == "keyring":
            backend = self._keyring_backend()
            if backend is None:
                from .errors import KeyringUnavailable

                raise KeyringUnavailable(
                    "this identity's key is in the OS keyring, and no secure keyring is available",
                    hint="unlock your desktop keyring, or restore with "
                    "'takusu init --restore FILE'",
                )
            return KeyringKek(backend)
        return PassphraseKek(self._passphrase_fn())

    # --- identity -----------------------------------------------------------------------------

    def init(self, name: str, use_passphrase: bool = False) -> tuple[Identity, str]:
        """Create this machine's identity; returns it and the KEK mode used."""
        if self.keystore.exists():
            raise AlreadyExists(
                f"an identity already exists in {self.home.path}", hint="'takusu whoami' shows it"
            )
        identity = Identity.generate(name)
        mode = "passphrase" if use_passphrase or self._keyring_backend() is None else "keyring"
        self.keystore.create(identity, self.backend(mode))
        self._identity = identity
        return identity, mode

    def card(self) -> Card:
        return self.keystore.card()

    def identity(self) -> Identity:
        """The unlocked identity (asks for the passphrase at most once per process)."""
        if self._identity is None:
            self._identity = self.keystore.unlock(self.backend(self.keystore.mode()))
        return self._identity

    def write_recovery_kit(self, path: Path) -> str:
        code = self.keystore.write_recovery_kit(self.identity(), path)
        doc = self.home.config()
        doc["recovery_kit"] = {"file": path.name}
        self.home.save(doc)
        return code

    def has_recovery_kit(self) -> bool:
        return bool(self.home.config().get("recovery_kit"))

    def restore(self, kit: Path, code: str, use_passphrase: bool = False) -> Identity:
        mode = "passphrase" if use_passphrase or self._keyring_backend() is None else "keyring"
        identity = self.keystore.restore(kit, code, self.backend(mode))
        doc = self.home.config()
        doc["recovery_kit"] = {"file": kit.name}
        self.home.save(doc)
        self._identity = identity
        return identity

    # --- vaults -------------------------------------------------------------------------------

    def create_vault(self, path: Path, name: str | None) -> str:
        me = self.identity()
        folder = path.expanduser().absolute()
        name = name or folder.name
        self._check_vault_name(name)
        vault_id = os.urandom(16).hex()
        vault_key = crypto.random_key()
        body = {
            "name": name,
            "owner_card": me.card.envelope,
            "vault_key_wrap": wrap_vault_key(vault_id, me.card, vault_key),
        }
        Store.create(folder, self.home.path, me, name, body, vault_id, self.disk)
        self.home.register(
            vault_id,
            {
                "name": name,
                "path": str(folder),
                "role": "owner",
                "owner": me.card.envelope,
                "owner_name": me.card.name,
            },
        )
        return vault_id

    def _check_vault_name(self, name: str) -> None:
        if any(v.get("name") == name for v in self.home.config()["vaults"].values()):
            raise AlreadyExists(
                f"a vault named {name!r} is already registered here", hint="choose another --name"
            )

    def inspect_vault(self, path: Path) -> tuple[dict[str, Any], Card]:
        """vault.json of a folder and its owner's card (verified), before trusting it."""
        meta = VaultFolder(path.expanduser().absolute()).meta()
        return meta, Card.from_envelope(meta.get("owner_card"))

    def open_vault(
        self, path: Path, name: str | None, safety_code: str | None, confirm: Confirm | None
    ) -> tuple[str, Card]:
        """Register a vault someone shared with me; pins its owner after the code is confirmed."""
        if not self.keystore.exists():
            raise NotInitialized("no identity on this machine yet")
        folder = path.expanduser().absolute()
        meta, owner = self.inspect_vault(folder)
        vault_id = meta["vault"]
        known = self.home.config()["vaults"].get(vault_id)
        if known:
            if Card.from_envelope(known["owner"]).id != owner.id:
                raise PinMismatch("this vault's owner is not the one you confirmed before")
            raise AlreadyExists(f"this vault is already registered as {known['name']!r}")
        name = name or meta.get("name") or folder.name
        self._check_vault_name(name)
        check_safety_code(owner, safety_code, confirm, owner.name)
        store = Store(folder, self.home.path, vault_id, owner, self.disk)
        store.load()  # verifies the genesis against the owner we just confirmed
        role = "owner" if owner.id == self.card().id else "member"
        self.home.register(
            vault_id,
            {
                "name": name,
                "path": str(folder),
                "role": role,
                "owner": owner.envelope,
                "owner_name": owner.name,
            },
        )
        return vault_id, owner

    def vaults(self) -> tuple[str | None, dict[str, dict[str, Any]]]:
        doc = self.home.config()
        return doc.get("default"), doc["vaults"]

    def use_vault(self, selector: str) -> str:
        vault_id, _ = self.home.resolve(selector)
        doc = self.home.config()
        doc["default"] = vault_id
        self.home.save(doc)
        return vault_id

    def session(self, selector: str | None = None, *, for_write: bool = False) -> Any:
        """Open a registered vault (default, name, id prefix or path) as a Session."""
        from .session import Session

        vault_id, entry = self.home.resolve(selector)
        pinned = Card.from_envelope(entry["owner"])
        folder = Path(entry["path"])
        meta, owner = self.inspect_vault(folder)
        if meta["vault"] != vault_id:
            raise PinMismatch(f"{folder} now holds another vault than the one registered")
        if owner.id != pinned.id:
            raise PinMismatch("the vault's owner has changed since you confirmed it; refusing")
        store = Store(folder, self.home.path, vault_id, pinned, self.disk)
        return Session(self.identity(), store, entry, for_write=for_write)
