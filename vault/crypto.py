"""The fence around the primitives: the only module that imports `cryptography`.

Everything here either returns verified/decrypted bytes or raises a typed error from
`vault.errors`; nothing returns a bool to be checked by the caller.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from . import labels
from .errors import BadCard, BadSignature, DecryptionFailed, IntegrityError, UserError
from .i18n import _

KEY_LEN = 32
NONCE_LEN = 12
_P = 2**255 - 19
# y (Ed25519) / u (X25519) coordinates of the points of order 1, 2, 4 and 8.
_ED_SMALL_ORDER_Y = {
    0,
    1,
    _P - 1,
    2707385501144840649318225287225658788936804267575313519463743609750303402022,
    55188659117513257062467267217118295137698188065244968500265048394206261417927,
}
_X_LOW_ORDER_U = {
    0,
    1,
    _P - 1,
    int.from_bytes(
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), "little"
    ),
    int.from_bytes(
        bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), "little"
    ),
}
MLKEM768_PUB_LEN = 1184


def random_key() -> bytes:
    """A fresh 256-bit key from the OS CSPRNG."""
    return os.urandom(KEY_LEN)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def equal(a: bytes | str, b: bytes | str) -> bool:
    """Constant-time comparison for secrets and digests."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


# --- Ed25519 --------------------------------------------------------------------------------


def check_ed25519_public(raw: bytes) -> None:
    """Raise BadCard unless `raw` is a canonical Ed25519 key of large order.

    OpenSSL (and so `cryptography`) accepts small-order keys, and a small-order key
    verifies a forged signature on every message; we refuse them before use.
    """
    if len(raw) != 32:
        raise BadCard(_("signing key has the wrong length"))
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P:
        raise BadCard(_("signing key is not canonically encoded"))
    if y in _ED_SMALL_ORDER_Y:
        raise BadCard(_("signing key is a small-order point (it would verify any signature)"))
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise BadCard(_("signing key is not a valid key")) from exc


def check_x25519_public(raw: bytes) -> None:
    """Raise BadCard unless `raw` is a canonical X25519 key outside the low-order set."""
    if len(raw) != 32:
        raise BadCard(_("encryption key has the wrong length"))
    u = int.from_bytes(raw, "little")
    if u >= _P:
        raise BadCard(_("encryption key is not canonically encoded"))
    if u in _X_LOW_ORDER_U:
        raise BadCard(_("encryption key is a low-order point"))


class SigningKey:
    """An Ed25519 private key. repr never shows it."""

    def __init__(self, raw: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(raw)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(os.urandom(32))

    def raw(self) -> bytes:
        from cryptography.hazmat.primitives import serialization as s

        return self._key.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())

    def public_raw(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    def sign(self, label: bytes, message: bytes) -> bytes:
        return self._key.sign(label + message)

    def __repr__(self) -> str:
        return "<SigningKey <redacted>>"


def verify(public_raw: bytes, label: bytes, message: bytes, signature: bytes) -> None:
    """Raise BadSignature unless `signature` is valid for label+message under the key."""
    check_ed25519_public(public_raw)
    if len(signature) != 64:
        raise BadSignature(_("signature has the wrong length"))
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, label + message)
    except InvalidSignature as exc:
        raise BadSignature(_("signature does not verify")) from exc


# --- HPKE -----------------------------------------------------------------------------------


def hybrid_available() -> bool:
    """True when this backend can do MLKEM768-X25519 HPKE (checked by a real round trip)."""
    try:
        key = KemKey.generate(labels.SUITE_HYBRID)
        ct = hpke_seal(labels.SUITE_HYBRID, key.public_raw(), b"probe", b"probe")
        return hpke_open(key, ct, b"probe") == b"probe"
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def _suite(name: str) -> hpke.Suite:
    if name == labels.SUITE_HYBRID:
        kem = hpke.KEM.MLKEM768_X25519
    elif name == labels.SUITE_CLASSIC:
        kem = hpke.KEM.X25519
    else:
        raise BadCard(_("unknown kind of key {suite!r}").format(suite=name))
    return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def check_kem_public(suite: str, raw: bytes) -> None:
    """Raise BadCard unless `raw` is a well-formed public key for `suite`."""
    _suite(suite)
    if suite == labels.SUITE_HYBRID:
        if len(raw) != MLKEM768_PUB_LEN + 32:
            raise BadCard(_("hybrid encryption key has the wrong length"))
        try:
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUB_LEN])
        except ValueError as exc:
            raise BadCard(_("post-quantum encryption key is malformed")) from exc
        check_x25519_public(raw[MLKEM768_PUB_LEN:])
    else:
        check_x25519_public(raw)


def _public_key(suite: str, raw: bytes) -> Any:
    check_kem_public(suite, raw)
    x = x25519.X25519PublicKey.from_public_bytes(raw[-32:])
    if suite == labels.SUITE_HYBRID:
        m = mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUB_LEN])
        return hpke.MLKEM768X25519PublicKey(m, x)
    return x


@dataclass(frozen=True, repr=False)
class KemKey:
    """An HPKE private key: X25519 scalar, plus the ML-KEM seed for the hybrid suite."""

    suite: str
    x25519_raw: bytes
    mlkem_seed: bytes = b""

    @classmethod
    def generate(cls, suite: str) -> KemKey:
        _suite(suite)
        seed = os.urandom(64) if suite == labels.SUITE_HYBRID else b""
        return cls(suite, os.urandom(32), seed)

    @functools.cached_property
    def _private(self) -> Any:
        """The private key object, built once per key: expanding the ML-KEM seed is about
        a third of a millisecond, paid by every command the agent (which keeps the
        identity) answers, not only by its first."""
        x = x25519.X25519PrivateKey.from_private_bytes(self.x25519_raw)
        if self.suite == labels.SUITE_HYBRID:
            m = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed)
            return hpke.MLKEM768X25519PrivateKey(m, x)
        return x

    def public_raw(self) -> bytes:
        x = x25519.X25519PrivateKey.from_private_bytes(self.x25519_raw).public_key()
        xpub = x.public_bytes_raw()
        if self.suite == labels.SUITE_HYBRID:
            m = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed).public_key()
            return m.public_bytes_raw() + xpub
        return xpub

    def __repr__(self) -> str:
        return f"<KemKey {self.suite} <redacted>>"


def hpke_seal(suite: str, public_raw: bytes, plaintext: bytes, info: bytes) -> bytes:
    """HPKE base-mode single-shot seal to a public key (enc || ciphertext)."""
    return _suite(suite).encrypt(plaintext, _public_key(suite, public_raw), info=info)


def hpke_open(key: KemKey, sealed: bytes, info: bytes) -> bytes:
    """Open an HPKE message; DecryptionFailed if it was not sealed to `key` with `info`."""
    try:
        return _suite(key.suite).decrypt(sealed, key._private, info=info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(_("a key wrap does not open for this person and item")) from exc


# --- AEAD and key commitment ----------------------------------------------------------------


def aead_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """ChaCha20-Poly1305 under `key` with a random nonce: nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_LEN)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, sealed: bytes, aad: bytes, what: str | None = None) -> bytes:
    """Inverse of aead_seal; DecryptionFailed when anything was changed. `what` names the
    ciphertext for people (already in their language)."""
    what = _("ciphertext") if what is None else what
    if len(key) != KEY_LEN:
        raise DecryptionFailed(_("{what}: key has the wrong length").format(what=what))
    if len(sealed) < NONCE_LEN + 16:
        raise DecryptionFailed(_("{what} is too short").format(what=what))
    try:
        return ChaCha20Poly1305(key).decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed(
            _("{what} does not decrypt (changed or wrong key)").format(what=what)
        ) from exc


def key_commit(data_key: bytes) -> bytes:
    """HMAC-SHA256(data_key, label): commits a ciphertext's reader to one key."""
    return hmac.new(data_key, labels.KEY_COMMIT, hashlib.sha256).digest()


def local_key(secret: bytes, context: str) -> bytes:
    """A key for this machine's own caches, derived from a secret only this identity holds."""
    return hmac.new(secret, labels.INDEX_KEY + context.encode(), hashlib.sha256).digest()


def check_key_commit(data_key: bytes, commitment: bytes) -> None:
    if not hmac.compare_digest(key_commit(data_key), commitment):
        raise IntegrityError(_("data key does not match the item's key commitment"))


# --- Argon2id -------------------------------------------------------------------------------

KDF_DEFAULT = {"alg": "argon2id", "memory_kib": 65536, "iterations": 3, "lanes": 4}
KDF_FLOOR = {"memory_kib": 19456, "iterations": 2, "lanes": 1}
KDF_CEILING = {"memory_kib": 4 * 1024 * 1024, "iterations": 64, "lanes": 64}


def check_kdf_params(params: object) -> None:
    """Refuse parameters outside [floor, ceiling] before any work is done."""
    if not isinstance(params, dict) or params.get("alg") != "argon2id":
        raise IntegrityError(_("key file names an unknown KDF"))
    for name in ("memory_kib", "iterations", "lanes"):
        value = params.get(name)
        if type(value) is not int:
            raise IntegrityError(
                _("key file KDF parameter {name} is not an integer").format(name=name)
            )
        if value < KDF_FLOOR[name]:
            raise IntegrityError(
                _("key file KDF parameter {name}={value} is below the floor").format(
                    name=name, value=value
                )
            )
        if value > KDF_CEILING[name]:
            raise IntegrityError(
                _("key file KDF parameter {name}={value} is above the ceiling").format(
                    name=name, value=value
                )
            )
    if params["memory_kib"] < 8 * params["lanes"]:
        raise IntegrityError(_("key file KDF memory is too small for its lanes"))


def argon2id(secret: bytes, salt: bytes, params: dict[str, Any]) -> bytes:
    """Derive a 256-bit key with Argon2id after checking the parameters."""
    check_kdf_params(params)
    if len(salt) < 16:
        raise IntegrityError(_("key file salt is too short"))
    try:
        return Argon2id(
            salt=salt,
            length=KEY_LEN,
            iterations=params["iterations"],
            lanes=params["lanes"],
            memory_cost=params["memory_kib"],
        ).derive(secret)
    except MemoryError as exc:  # pragma: no cover - depends on the machine
        raise UserError(_("not enough memory to check the passphrase")) from exc
