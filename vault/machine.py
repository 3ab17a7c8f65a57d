"""This machine's takusu: its identity, its registry of vaults, and opening a vault.

`Machine` ties the keystore, the home registry and the store together; `Session`
(vault/session.py) is one opened vault. The CLI is a thin layer over these two.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from . import crypto, fsutil, labels
from .clock import Clock, system_clock
from .envelope import wrap_vault_key
from .errors import (
    AlreadyExists,
    IntegrityError,
    KeyringUnavailable,
    Malformed,
    NotInitialized,
    PassphraseUnavailable,
    PinMismatch,
    UserError,
    WrongPassphrase,
)
from .home import Home, VaultEntry
from .i18n import _
from .identity import Card, Identity
from .keystore import (
    KekBackend,
    KeyringKek,
    KeyStore,
    PassphraseFn,
    PassphraseKek,
    secret_service_reader,
    secure_keyring,
)
from .session import Session
from .store import Store, VaultFolder
from .text import checked
from .trust import Confirm, Show, check_safety_code

_AUTO = object()


class Machine:
    """One machine's takusu: TAKUSU_HOME, the unlocked identity, and its vaults."""

    def __init__(
        self,
        home: Path | None = None,
        passphrase: PassphraseFn | None = None,
        keyring_backend: Any = _AUTO,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
        clock: Clock = system_clock,
        passphrase_tries: int = 1,
    ) -> None:
        self.home = Home(home)
        self.passphrase_tries = passphrase_tries
        self.keystore = KeyStore(self.home.path)
        self._passphrase = passphrase
        self._keyring = keyring_backend
        self.disk = disk
        self.clock = clock
        self._identity: Identity | None = None

    # --- keystore backends --------------------------------------------------------------------

    def keyring_backend(self) -> Any | None:
        """The secure OS keyring backend on this machine, or None."""
        if self._keyring is _AUTO:
            self._keyring = secure_keyring()
        return self._keyring

    def _passphrase_fn(self) -> PassphraseFn:
        if self._passphrase is None:

            def missing(confirm: bool) -> str:
                raise PassphraseUnavailable(_("a passphrase is needed and none was given"))

            return missing
        return self._passphrase

    def backend(self, mode: str) -> KekBackend:
        if mode == "keyring":
            backend = self.keyring_backend()
            if backend is None:
                raise KeyringUnavailable(
                    _(
                        "this identity's key is in the OS keyring, and no secure keyring "
                        "is available"
                    ),
                    hint=_(
                        "unlock your desktop keyring, or restore with 'takusu init --restore FILE'"
                    ),
                )
            return KeyringKek(backend)
        return PassphraseKek(self._passphrase_fn())

    # --- identity -----------------------------------------------------------------------------

    def init(self, name: str, use_passphrase: bool = False) -> tuple[Identity, str]:
        """Create this machine's identity; returns it and the KEK mode used."""
        if self.keystore.exists():
            raise AlreadyExists(
                _("an identity already exists in {folder}").format(folder=self.home.path),
                hint=_("'takusu whoami' shows it"),
            )
        identity = Identity.generate(name)
        mode = "passphrase" if use_passphrase or self.keyring_backend() is None else "keyring"
        self.keystore.create(identity, self.backend(mode))
        self._identity = identity
        return identity, mode

    def card(self) -> Card:
        return self.keystore.card()

    def identity(self) -> Identity:
        """The unlocked identity (asks for the passphrase at most once per process)."""
        if self._identity is None and self._keyring is _AUTO:
            self._identity = self._unlock_from_secret_service()
        for attempt in range(self.passphrase_tries):
            if self._identity is not None:
                break
            try:
                self._identity = self.keystore.unlock(self.backend(self.keystore.mode()))
            except WrongPassphrase:
                if attempt + 1 == self.passphrase_tries:
                    raise
        assert self._identity is not None
        return self._identity

    def _unlock_from_secret_service(self) -> Identity | None:
        """A keyring-mode identity opened by the light Secret Service reader; None when it
        cannot (then keyring itself is asked, as always)."""
        reader = secret_service_reader()
        if reader is None or self.keystore.mode() != "keyring":
            return None
        try:
            return self.keystore.unlock(reader)
        except (KeyringUnavailable, IntegrityError, Malformed):
            return None

    def write_recovery_kit(self, path: Path) -> str:
        code = self.keystore.write_recovery_kit(self.identity(), path)
        doc = self.home.config()
        doc["recovery_kit"] = {"file": path.name}
        self.home.save(doc)
        return code

    def has_recovery_kit(self) -> bool:
        return bool(self.home.config().get("recovery_kit"))

    def restore(self, kit: Path, code: str, use_passphrase: bool = False) -> Identity:
        mode = "passphrase" if use_passphrase or self.keyring_backend() is None else "keyring"
        identity = self.keystore.restore(kit, code, self.backend(mode))
        doc = self.home.config()
        doc["recovery_kit"] = {"file": kit.name}
        self.home.save(doc)
        self._identity = identity
        return identity

    # --- vaults -------------------------------------------------------------------------------

    def create_vault(self, path: Path, name: str | None) -> str:
        me = self.identity()
        folder = path.expanduser().resolve()  # a link the user gives is followed once, here
        name = self._check_vault_name(name or folder.name)
        vault_id = os.urandom(16).hex()
        vault_key = crypto.random_key()
        body = {
            "name": name,
            "owner_card": me.card.envelope,
            "vault_key_wrap": wrap_vault_key(vault_id, me.card, vault_key),
        }
        Store.create(folder, self.home.path, me, name, body, vault_id, self.disk, self.clock)
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

    def _check_vault_name(self, name: str) -> str:
        """The name checked as text (NFC, no control characters) and unused here."""
        name = checked(name, _("the vault name"), max_len=labels.MAX_VAULT_NAME)
        if any(v.get("name") == name for v in self.home.config()["vaults"].values()):
            raise AlreadyExists(
                _("a vault named {name!r} is already registered here").format(name=name),
                hint=_("choose another --name"),
            )
        return name

    def inspect_vault(self, path: Path) -> tuple[dict[str, Any], Card]:
        """vault.json of a folder and its owner's card (verified), before trusting it."""
        meta = VaultFolder(path.expanduser().absolute()).meta()
        return meta, Card.from_envelope(meta.get("owner_card"))

    def add_shared_vault(
        self,
        path: Path,
        name: str | None,
        safety_code: str | None,
        confirm: Confirm | None,
        show: Show | None = None,
    ) -> tuple[str, Card]:
        """Register a vault someone shared with me (`vault open`): show whose it is, compare
        the owner's safety code, verify the owner's log, then pin the owner."""
        if not self.keystore.exists():
            raise NotInitialized(_("no identity on this machine yet"))
        folder = path.expanduser().resolve()  # a link the user gives is followed once, here
        meta, owner = self.inspect_vault(folder)
        if show is not None:
            show(_("This vault belongs to {owner}.").format(owner=owner.name))
        vault_id = meta["vault"]
        known = self.home.config()["vaults"].get(vault_id)
        if known:
            if Card.from_envelope(known["owner"]).id != owner.id:
                raise PinMismatch(_("this vault's owner is not the one you confirmed before"))
            raise AlreadyExists(
                _("this vault is already registered as {name!r}").format(name=known["name"])
            )
        name = self._check_vault_name(name or meta.get("name") or folder.name)
        check_safety_code(owner, safety_code, confirm, owner.name)
        store = Store(folder, self.home.path, vault_id, owner, self.disk, self.clock)
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

    def forget_vault(self, selector: str, force: bool = False) -> VaultEntry:
        """Drop a vault from this machine: its registry entry, its verified mirror, its
        index and cache (the shared folder is not touched). Refuses my own vault unless
        `force`: its mirror is the copy `doctor --repair` restores from."""
        vault_id, entry = self.home.resolve(selector)
        if entry["role"] == "owner" and not force:
            raise UserError(
                _(
                    "{name!r} is your own vault; this machine's verified copy of it "
                    "is what repairs restore from"
                ).format(name=entry["name"]),
                hint=_("add --yes if you really want to forget it here"),
            )
        doc = self.home.config()
        doc["vaults"].pop(vault_id, None)
        if doc.get("default") == vault_id:
            doc["default"] = next(iter(doc["vaults"]), None)
        self.home.save(doc)
        shutil.rmtree(self.home.path / "vaults" / vault_id, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.home.path / "locks" / f"{vault_id}.lock").unlink()
        return entry

    def vaults(self) -> tuple[str | None, dict[str, VaultEntry]]:
        doc = self.home.config()
        return doc.get("default"), doc["vaults"]

    def use_vault(self, selector: str) -> str:
        vault_id, _entry = self.home.resolve(selector)
        doc = self.home.config()
        doc["default"] = vault_id
        self.home.save(doc)
        return vault_id

    def session(self, selector: str | None = None) -> Session:
        """Open a registered vault (default, name, id prefix or path) as a Session. It writes
        nothing: the owner's routine work (expiries) is `sharing.upkeep`, run by the caller."""
        vault_id, entry = self.home.resolve(selector)
        pinned = Card.from_envelope(entry["owner"])
        folder = Path(entry["path"])
        meta, owner = self.inspect_vault(folder)
        if meta["vault"] != vault_id:
            raise PinMismatch(
                _("{folder} now holds another vault than the one registered").format(folder=folder)
            )
        if owner.id != pinned.id:
            raise PinMismatch(_("the vault's owner has changed since you confirmed it; refusing"))
        store = Store(folder, self.home.path, vault_id, pinned, self.disk, self.clock)
        return Session(self.identity(), store, entry, self.clock)
