"""This machine's private identity, encrypted at rest; the only module that imports `keyring`.

The identity file is sealed under a key-encryption key (KEK) that comes from one of
two backends with one contract (`KekBackend`): a random 256-bit key held by a secure
OS keyring, or Argon2id over a passphrase. A recovery kit seals the same identity
under a one-time, high-entropy recovery code.
"""

from __future__ import annotations

import base64
import os
import secrets
import textwrap
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from . import crypto, fsutil, labels
from .encoding import b64d, b64e, dumps, loads
from .errors import (
    AlreadyExists,
    BadInput,
    BadRecoveryCode,
    DecryptionFailed,
    IntegrityError,
    KeyringUnavailable,
    Malformed,
    NotInitialized,
    UnknownVersion,
    WrongPassphrase,
)
from .i18n import _
from .identity import Card, Identity

KEYRING_SERVICE = "takusu"
KEY_FILE = "identity.key"
MIN_PASSPHRASE = 8
PassphraseFn = Callable[[bool], str]  # confirm: bool -> passphrase


class KekBackend(Protocol):
    """Where the key-encryption key lives. `params` is stored (public) in the key file."""

    mode: str

    def create(self, account: str) -> tuple[bytes, dict[str, Any]]: ...

    def unlock(self, params: dict[str, Any]) -> bytes: ...

    def forget(self, params: dict[str, Any]) -> None: ...


# --- OS keyring ------------------------------------------------------------------------------

_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def is_secure_backend(backend: Any) -> bool:
    """False for the fail/null backends, plaintext/alt files, and anything of priority <= 0."""
    module = type(backend).__module__
    if module.startswith(_INSECURE_MODULES) or "plaintext" in type(backend).__name__.lower():
        return False
    try:
        return float(backend.priority) > 0
    except Exception:  # noqa: BLE001 - a backend that cannot say is not trusted
        return False


def secure_keyring() -> Any | None:
    """The OS keyring backend if a secure one exists here, else None (never an insecure one)."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    backend = keyring.get_keyring()
    candidates = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    for candidate in candidates:
        if is_secure_backend(candidate):
            return candidate
    return None


class KeyringKek:
    """A random 256-bit KEK stored in a secure OS keyring backend."""

    mode = "keyring"

    def __init__(self, backend: Any) -> None:
        if not is_secure_backend(backend):
            raise KeyringUnavailable(
                _("refusing the insecure keyring backend {backend}").format(
                    backend=type(backend).__module__
                ),
                hint=_("use 'takusu init --passphrase' instead"),
            )
        self.backend = backend

    def create(self, account: str) -> tuple[bytes, dict[str, Any]]:
        kek = crypto.random_key()
        try:
            self.backend.set_password(KEYRING_SERVICE, account, b64e(kek))
        except Exception as exc:  # noqa: BLE001 - keyring raises many types
            raise KeyringUnavailable(
                _("the OS keyring refused to store the key: {error}").format(
                    error=type(exc).__name__
                )
            ) from exc
        return kek, {"service": KEYRING_SERVICE, "account": account}

    def unlock(self, params: dict[str, Any]) -> bytes:
        try:
            stored = self.backend.get_password(params["service"], params["account"])
        except Exception as exc:  # noqa: BLE001
            raise KeyringUnavailable(
                _("the OS keyring cannot be read: {error}").format(error=type(exc).__name__)
            ) from exc
        if stored is None:
            raise KeyringUnavailable(
                _("this identity's key is missing from the OS keyring"),
                hint=_("restore it from your recovery kit: takusu init --restore FILE"),
            )
        return b64d(stored, _("keyring entry"))

    def forget(self, params: dict[str, Any]) -> None:
        try:
            self.backend.delete_password(params["service"], params["account"])
        except Exception:  # noqa: BLE001,S110 - already gone is fine
            pass


class SecretServiceReader:
    """Reads the KEK straight from the Secret Service over D-Bus (with `secretstorage`, the
    library keyring's own Secret Service backend drives), by the attributes that backend
    and the libsecret one store it under, without importing `keyring`: finding and
    importing every keyring backend costs more than the rest of a command (about 300 ms
    here). Used only to unlock, and only where keyring would ask the Secret Service too
    (`secret_service_reader`); whatever it cannot answer (locked, not there, no service)
    is KeyringUnavailable, and the caller then asks keyring itself."""

    mode = "keyring"

    def create(self, account: str) -> tuple[bytes, dict[str, Any]]:
        raise NotImplementedError("the Secret Service reader only reads")

    def forget(self, params: dict[str, Any]) -> None:
        raise NotImplementedError("the Secret Service reader only reads")

    def unlock(self, params: dict[str, Any]) -> bytes:
        from contextlib import closing

        stored = None
        try:
            import secretstorage

            with closing(secretstorage.dbus_init()) as bus:
                collection = secretstorage.get_default_collection(bus)
                if not collection.is_locked():
                    query = {"username": params["account"], "service": params["service"]}
                    for item in collection.search_items(query):
                        if not item.is_locked():
                            stored = item.get_secret().decode("utf-8")
                        break
        except Exception as exc:  # noqa: BLE001 - D-Bus and secretstorage raise many types
            raise KeyringUnavailable(_("the Secret Service did not answer")) from exc
        if stored is None:  # not in its default collection, or locked: keyring may prompt
            raise KeyringUnavailable(_("the Secret Service did not answer"))
        return b64d(stored, _("keyring entry"))


def secret_service_reader() -> SecretServiceReader | None:
    """The light reader where keyring, left to itself, would use the Secret Service: Linux
    with a session bus, and no keyring backend chosen by PYTHON_KEYRING_BACKEND or a
    keyringrc.cfg (a KDE desktop's KWallet is not the Secret Service: the entry is then not
    found, and keyring is asked)."""
    import sys

    if not sys.platform.startswith("linux") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    home = Path.home()
    roots = (
        os.environ.get("XDG_CONFIG_HOME") or home / ".config",
        os.environ.get("XDG_DATA_HOME") or home / ".local" / "share",
    )
    if any((Path(root) / "python_keyring" / "keyringrc.cfg").exists() for root in roots):
        return None
    return SecretServiceReader()


# --- passphrase ------------------------------------------------------------------------------


class PassphraseKek:
    """A KEK derived from a passphrase with Argon2id; parameters stored beside the salt."""

    mode = "passphrase"

    def __init__(self, passphrase: PassphraseFn, kdf: dict[str, Any] | None = None) -> None:
        self.passphrase = passphrase
        self.kdf = dict(kdf or crypto.KDF_DEFAULT)

    def create(self, account: str) -> tuple[bytes, dict[str, Any]]:
        secret = self.passphrase(True)
        if len(secret) < MIN_PASSPHRASE:
            raise BadInput(
                _("a passphrase needs at least {n} characters").format(n=MIN_PASSPHRASE),
                hint=_("a few unrelated words are easy to type and hard to guess"),
            )
        salt = os.urandom(16)
        return crypto.argon2id(secret.encode(), salt, self.kdf), {
            "kdf": self.kdf,
            "salt": b64e(salt),
        }

    def unlock(self, params: dict[str, Any]) -> bytes:
        kdf = params.get("kdf")
        if not isinstance(kdf, dict):
            raise IntegrityError(_("key file has no KDF parameters"))
        crypto.check_kdf_params(kdf)  # before asking for anything
        salt = b64d(params.get("salt"), _("key file salt"))
        return crypto.argon2id(self.passphrase(False).encode(), salt, kdf)

    def forget(self, params: dict[str, Any]) -> None:
        return None


# --- the key file ----------------------------------------------------------------------------


class KeyStore:
    """The identity file in TAKUSU_HOME and the recovery kit."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / KEY_FILE

    def account(self, identity_id: str) -> str:
        """The keyring entry's name: the identity and this home, so two homes never collide."""
        home = crypto.sha256_hex(str(self.home.absolute()).encode())[:16]
        return f"{identity_id}@{home}"

    def exists(self) -> bool:
        return self.path.exists() or self.path.is_symlink()

    def _read(self) -> dict[str, Any]:
        if not self.exists():
            raise NotInitialized(_("no identity on this machine yet"))
        fsutil.check_private(self.path)
        obj = loads(fsutil.read_bytes(self.path, labels.MAX_SMALL_FILE), _("key file"))
        if not isinstance(obj, dict) or not labels.is_current(obj.get("v")):
            raise UnknownVersion(_("key file {file} has an unknown version").format(file=self.path))
        if (
            obj.get("mode") not in ("keyring", "passphrase")
            or not isinstance(obj.get("params"), dict)
            or not isinstance(obj.get("id"), str)
            or not isinstance(obj.get("card"), dict)
            or not isinstance(obj.get("sealed"), str)
        ):
            raise Malformed(_("key file {file} is malformed").format(file=self.path))
        if obj["mode"] == "keyring" and not all(
            isinstance(obj["params"].get(k), str) for k in ("service", "account")
        ):
            raise Malformed(_("key file {file} is malformed").format(file=self.path))
        return obj

    def mode(self) -> str:
        return str(self._read()["mode"])

    def card(self) -> Card:
        """The public card, readable without unlocking."""
        return Card.from_envelope(self._read()["card"])

    def create(self, identity: Identity, backend: KekBackend) -> None:
        if self.exists():
            raise AlreadyExists(
                _("an identity already exists in {folder}").format(folder=self.home),
                hint=_("use another TAKUSU_HOME, or remove it only if you have a recovery kit"),
            )
        fsutil.ensure_dir(self.home)
        kek, params = backend.create(self.account(identity.id))
        self._write(identity, backend.mode, kek, params, new=True)

    def _write(
        self, identity: Identity, mode: str, kek: bytes, params: dict[str, Any], new: bool
    ) -> None:
        sealed = crypto.aead_seal(
            kek, identity.private_bytes(), labels.KEYFILE_AAD + identity.id.encode()
        )
        doc = {
            "v": labels.FORMAT_VERSION,
            "id": identity.id,
            "mode": mode,
            "params": params,
            "card": identity.card.envelope,
            "sealed": b64e(sealed),
        }
        if new:
            fsutil.write_new(self.path, dumps(doc))
        else:
            fsutil.atomic_write(self.path, dumps(doc))

    def unlock(self, backend: KekBackend) -> Identity:
        """Open the identity; WrongPassphrase / KeyringUnavailable when the KEK is wrong or gone."""
        doc = self._read()
        if doc["mode"] != backend.mode:
            raise IntegrityError(
                _("key file mode {mode!r} does not match the unlock method").format(
                    mode=doc["mode"]
                )
            )
        kek = backend.unlock(doc["params"])
        aad = labels.KEYFILE_AAD + str(doc["id"]).encode()
        what = _("key file")
        try:
            plain = crypto.aead_open(kek, b64d(doc["sealed"], what), aad, what)
        except DecryptionFailed as exc:
            if backend.mode == "passphrase":
                raise WrongPassphrase(_("wrong passphrase (nothing was changed)")) from exc
            raise IntegrityError(_("the key in the OS keyring does not open the key file")) from exc
        identity = Identity.from_private_bytes(plain)
        if identity.id != doc["id"]:
            raise IntegrityError(_("key file id does not match its contents"))
        return identity

    def forget(self, backend: KekBackend) -> None:
        """Remove the KEK from its backend (the keyring entry); used by tests and reset."""
        backend.forget(self._read()["params"])

    # --- recovery kit ------------------------------------------------------------------------

    def write_recovery_kit(self, identity: Identity, path: Path) -> str:
        """Seal the identity under a fresh recovery code, write the kit, return the code once."""
        code = new_recovery_code()
        salt = os.urandom(16)
        kek = crypto.argon2id(_code_secret(code), salt, crypto.KDF_DEFAULT)
        sealed = crypto.aead_seal(
            kek, identity.private_bytes(), labels.RECOVERY_AAD + identity.id.encode()
        )
        doc = {
            "v": labels.FORMAT_VERSION,
            "id": identity.id,
            "name": identity.card.name,
            "kdf": crypto.KDF_DEFAULT,
            "salt": b64e(salt),
            "sealed": b64e(sealed),
        }
        body = base64.b64encode(dumps(doc)).decode()
        text = "\n".join(
            [
                labels.KIT_ARMOR_BEGIN,
                f"Identity: {identity.card.name} ({identity.id[:8]})",
                "Keep this file and the recovery code apart. Together they ARE your identity.",
                "",
                *textwrap.wrap(body, 64),
                labels.KIT_ARMOR_END,
                "",
            ]
        )
        fsutil.write_new(path, text.encode())
        return code

    def restore(self, kit_path: Path, code: str, backend: KekBackend) -> Identity:
        """Bring an identity back from a kit and its code; store it under `backend`."""
        if self.exists():
            raise AlreadyExists(
                _("an identity already exists in {folder}").format(folder=self.home)
            )
        identity = open_recovery_kit(kit_path, code)
        fsutil.ensure_dir(self.home)
        kek, params = backend.create(self.account(identity.id))
        self._write(identity, backend.mode, kek, params, new=True)
        return identity


# Crockford base32 without I, L, O, U: easy to read aloud and to write by hand.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 24  # 120 bits
_CHECK_CHARS = 4  # 20 bits of SHA-256: catches typos


def _checksum(body: str) -> str:
    digest = int.from_bytes(crypto.sha256(labels.RECOVERY_CODE_CHECK + body.encode())[:4], "big")
    return "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(_CHECK_CHARS))


def new_recovery_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _n in range(_CODE_CHARS))
    full = body + _checksum(body)
    return "-".join(full[i : i + 4] for i in range(0, len(full), 4))


def normalize_recovery_code(code: str) -> str:
    """Upper-case, drop separators, map look-alikes; BadRecoveryCode if the checksum fails."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    wide = unicodedata.normalize("NFKC", code).upper()  # full-width letters and digits too
    cleaned = "".join(ch for ch in wide if ch.isascii() and ch.isalnum()).translate(table)
    if len(cleaned) != _CODE_CHARS + _CHECK_CHARS or any(ch not in _ALPHABET for ch in cleaned):
        raise BadRecoveryCode(
            _("a recovery code has {n} letters and digits").format(n=_CODE_CHARS + _CHECK_CHARS)
        )
    body, check = cleaned[:_CODE_CHARS], cleaned[_CODE_CHARS:]
    if not crypto.equal(_checksum(body), check):
        raise BadRecoveryCode(_("the recovery code has a typo (its checksum does not match)"))
    return body


def _code_secret(code: str) -> bytes:
    return normalize_recovery_code(code).encode()


def open_recovery_kit(kit_path: Path, code: str) -> Identity:
    secret = _code_secret(code)  # a typo is reported before any work
    try:
        text = fsutil.read_bytes(kit_path, labels.MAX_SMALL_FILE).decode("utf-8")
    except FileNotFoundError:
        raise BadRecoveryCode(_("no recovery kit at {file}").format(file=kit_path)) from None
    except UnicodeDecodeError as exc:
        raise Malformed(_("{file} is not a takusu recovery kit").format(file=kit_path)) from exc
    lines = [line.strip() for line in text.splitlines()]
    try:
        start = lines.index(labels.KIT_ARMOR_BEGIN)
        end = lines.index(labels.KIT_ARMOR_END, start)
    except ValueError:
        raise Malformed(_("{file} is not a takusu recovery kit").format(file=kit_path)) from None
    body = "".join(
        line for line in lines[start + 1 : end] if line and ":" not in line and " " not in line
    )
    try:
        doc = loads(base64.b64decode(body, validate=True), _("recovery kit"))
    except ValueError as exc:
        raise Malformed(_("{file} is damaged").format(file=kit_path)) from exc
    if not isinstance(doc, dict) or not labels.is_current(doc.get("v")):
        raise UnknownVersion(_("recovery kit has an unknown version"))
    kek = crypto.argon2id(secret, b64d(doc.get("salt"), _("kit salt")), doc.get("kdf") or {})
    aad = labels.RECOVERY_AAD + str(doc.get("id")).encode()
    what = _("recovery kit")
    try:
        plain = crypto.aead_open(kek, b64d(doc.get("sealed"), what), aad, what)
    except DecryptionFailed:
        raise BadRecoveryCode(_("this recovery code does not open this kit")) from None
    identity = Identity.from_private_bytes(plain)
    if identity.id != doc.get("id"):
        raise IntegrityError(_("recovery kit id does not match its contents"))
    return identity
