"""vault.crypto: the guards around the primitives, round trips, and typed failures."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vault import crypto, labels
from vault.encoding import b64e
from vault.errors import BadCard, BadSignature, DecryptionFailed, IntegrityError

P = 2**255 - 19


def _le(n: int) -> bytes:
    return n.to_bytes(32, "little")


# The identity point (x=0, y=1) and a signature R=identity, S=0. Under the identity key
# the verification equation [S]B == R + [h]A holds for every message.
IDENTITY = _le(1)
FORGED_SIG = IDENTITY + bytes(32)

# Small-order Ed25519 encodings (the list libsodium blocks), by their y coordinate.
ED_SMALL_ORDER = {
    "y=0 (order 4)": _le(0),
    "y=1 identity (order 1)": _le(1),
    "y=p-1 (order 2)": _le(P - 1),
    "order 8, first y": bytes.fromhex(
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"
    ),
}
# The other order-8 y is the negation of the first.
ED_SMALL_ORDER["order 8, second y"] = _le(
    P - int.from_bytes(ED_SMALL_ORDER["order 8, first y"], "little")
)

ED_NON_CANONICAL = {
    "y=p (0 mod p)": _le(P),
    "y=p+1 (identity mod p)": _le(P + 1),
    "y=2^255-1": _le(2**255 - 1),
    "y=p+1 with sign bit": _le(P + 1 + 2**255),
}
X_LOW_ORDER = {
    "u=0": _le(0),
    "u=1": _le(1),
    "u=p-1": _le(P - 1),
    "order 8, first u": bytes.fromhex(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
    ),
    "order 8, second u": bytes.fromhex(
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"
    ),
}
X_NON_CANONICAL = {
    "u=p": _le(P),
    "u=p+1": _le(P + 1),
    "u=9 with top bit": _le(9 + 2**255),
    "all ones": b"\xff" * 32,
}


def _flip(data: bytes, index: int, mask: int = 1) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


# --- Ed25519 guard -------------------------------------------------------------------------


def test_cryptography_alone_accepts_a_forgery_under_the_identity_key():
    """The premise of the guard: the raw primitive verifies anything under this key."""
    key = Ed25519PublicKey.from_public_bytes(IDENTITY)
    for message in (b"", b"pay mallory", labels.EVENT_SIG + b'{"type":"grant"}'):
        key.verify(FORGED_SIG, message)  # raises if the library ever closes the hole


ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _message_with_small_h(public: bytes) -> bytes:
    """A message whose challenge h is 0 mod 8, so [h]A is the identity for a small-order A."""
    for n in range(1000):
        message = b"forged %d" % n
        h = int.from_bytes(hashlib.sha512(IDENTITY + public + message).digest(), "little")
        if h % ED25519_L % 8 == 0:
            return message
    raise AssertionError("no message found")


@pytest.mark.parametrize("raw", ED_SMALL_ORDER.values(), ids=ED_SMALL_ORDER.keys())
def test_cryptography_alone_accepts_forgeries_under_every_small_order_key(raw):
    message = _message_with_small_h(raw)
    Ed25519PublicKey.from_public_bytes(raw).verify(FORGED_SIG, message)
    with pytest.raises(BadCard, match="small-order"):
        crypto.verify(raw, b"", message, FORGED_SIG)


def test_verify_refuses_the_identity_key_forgery_with_badcard():
    with pytest.raises(BadCard, match="small-order"):
        crypto.verify(IDENTITY, labels.EVENT_SIG, b"pay mallory", FORGED_SIG)


@pytest.mark.parametrize("raw", ED_SMALL_ORDER.values(), ids=ED_SMALL_ORDER.keys())
@pytest.mark.parametrize("sign_bit", [0, 1])
def test_small_order_ed25519_keys_are_refused(raw, sign_bit):
    raw = raw[:31] + bytes([raw[31] | (sign_bit << 7)])
    with pytest.raises(BadCard, match="small-order"):
        crypto.check_ed25519_public(raw)
    with pytest.raises(BadCard):
        crypto.verify(raw, labels.EVENT_SIG, b"m", FORGED_SIG)


@pytest.mark.parametrize("raw", ED_NON_CANONICAL.values(), ids=ED_NON_CANONICAL.keys())
def test_non_canonical_ed25519_keys_are_refused(raw):
    with pytest.raises(BadCard, match="not canonically encoded"):
        crypto.check_ed25519_public(raw)


def test_non_canonical_identity_also_verifies_forgeries_in_cryptography():
    """p+1 encodes the identity too; OpenSSL reduces it and accepts the forgery."""
    Ed25519PublicKey.from_public_bytes(_le(P + 1)).verify(FORGED_SIG, b"anything")
    with pytest.raises(BadCard):
        crypto.verify(_le(P + 1), labels.EVENT_SIG, b"anything", FORGED_SIG)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_ed25519_key_of_wrong_length_is_refused(length):
    with pytest.raises(BadCard, match="wrong length"):
        crypto.check_ed25519_public(b"\x05" * length)


def test_a_real_key_verifies_and_any_change_is_badsignature():
    key = crypto.SigningKey.generate()
    pub = key.public_raw()
    crypto.check_ed25519_public(pub)
    sig = key.sign(labels.EVENT_SIG, b"hello")
    crypto.verify(pub, labels.EVENT_SIG, b"hello", sig)
    with pytest.raises(BadSignature):
        crypto.verify(pub, labels.EVENT_SIG, b"hellO", sig)
    with pytest.raises(BadSignature):
        crypto.verify(pub, labels.CARD_SIG, b"hello", sig)  # domain separation
    with pytest.raises(BadSignature):
        crypto.verify(pub, labels.EVENT_SIG, b"hello", _flip(sig, 10))
    with pytest.raises(BadSignature, match="wrong length"):
        crypto.verify(pub, labels.EVENT_SIG, b"hello", sig[:63])
    other = crypto.SigningKey.generate().public_raw()
    with pytest.raises(BadSignature):
        crypto.verify(other, labels.EVENT_SIG, b"hello", sig)


def test_signing_key_round_trips_through_raw():
    key = crypto.SigningKey.generate()
    again = crypto.SigningKey(key.raw())
    assert again.public_raw() == key.public_raw()
    assert len(key.raw()) == 32
    assert key.raw() != crypto.SigningKey.generate().raw()


# --- X25519 guard --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", X_LOW_ORDER.values(), ids=X_LOW_ORDER.keys())
def test_low_order_x25519_keys_are_refused(raw):
    with pytest.raises(BadCard, match="low-order"):
        crypto.check_x25519_public(raw)
    with pytest.raises(BadCard):
        crypto.check_kem_public(labels.SUITE_CLASSIC, raw)


@pytest.mark.parametrize("raw", X_NON_CANONICAL.values(), ids=X_NON_CANONICAL.keys())
def test_non_canonical_x25519_keys_are_refused(raw):
    with pytest.raises(BadCard, match="not canonically encoded"):
        crypto.check_x25519_public(raw)


@pytest.mark.parametrize("length", [0, 31, 33])
def test_x25519_key_of_wrong_length_is_refused(length):
    with pytest.raises(BadCard, match="wrong length"):
        crypto.check_x25519_public(b"\x09" * length)


def test_a_real_x25519_key_is_accepted():
    crypto.check_x25519_public(crypto.KemKey.generate(labels.SUITE_CLASSIC).public_raw())
    crypto.check_x25519_public(_le(9))  # the base point


def test_hybrid_key_with_low_order_x25519_half_is_refused():
    good = crypto.KemKey.generate(labels.SUITE_HYBRID).public_raw()
    crypto.check_kem_public(labels.SUITE_HYBRID, good)
    bad = good[: crypto.MLKEM768_PUB_LEN] + X_LOW_ORDER["u=0"]
    with pytest.raises(BadCard, match="low-order"):
        crypto.check_kem_public(labels.SUITE_HYBRID, bad)
    with pytest.raises(BadCard, match="wrong length"):
        crypto.check_kem_public(labels.SUITE_HYBRID, good[:-1])
    with pytest.raises(BadCard, match="unknown kind of key"):
        crypto.check_kem_public("X448/HKDF_SHA512/AES_256_GCM", good)


def test_sealing_to_a_low_order_key_is_refused_before_encrypting():
    with pytest.raises(BadCard, match="low-order"):
        crypto.hpke_seal(labels.SUITE_CLASSIC, X_LOW_ORDER["u=1"], b"data key", b"info")


# --- HPKE ----------------------------------------------------------------------------------


def test_this_backend_has_the_hybrid_suite():
    assert crypto.hybrid_available() is True


@pytest.mark.parametrize("suite", labels.SUITES)
def test_hpke_round_trip(suite):
    key = crypto.KemKey.generate(suite)
    sealed = crypto.hpke_seal(suite, key.public_raw(), b"secret data key", b"info")
    assert b"secret data key" not in sealed
    assert crypto.hpke_open(key, sealed, b"info") == b"secret data key"
    again = crypto.hpke_seal(suite, key.public_raw(), b"secret data key", b"info")
    assert again != sealed  # a fresh encapsulation each time


@pytest.mark.parametrize("suite", labels.SUITES)
def test_hpke_open_with_wrong_info_or_key_is_decryptionfailed(suite):
    key = crypto.KemKey.generate(suite)
    sealed = crypto.hpke_seal(suite, key.public_raw(), b"k", b"info A")
    with pytest.raises(DecryptionFailed):
        crypto.hpke_open(key, sealed, b"info B")
    with pytest.raises(DecryptionFailed):
        crypto.hpke_open(crypto.KemKey.generate(suite), sealed, b"info A")
    with pytest.raises(DecryptionFailed):
        crypto.hpke_open(key, _flip(sealed, len(sealed) - 1), b"info A")
    with pytest.raises(DecryptionFailed):
        crypto.hpke_open(key, sealed[:20], b"info A")


@pytest.mark.parametrize("suite", labels.SUITES)
def test_hpke_open_of_garbage_is_decryptionfailed(suite):
    key = crypto.KemKey.generate(suite)
    sealed = crypto.hpke_seal(suite, key.public_raw(), b"k", b"i")
    enc_len = len(sealed) - len(b"k") - 16
    for garbage in (b"", bytes(5), bytes(len(sealed)), bytes(enc_len) + sealed[enc_len:]):
        with pytest.raises(DecryptionFailed):
            crypto.hpke_open(key, garbage, b"i")


def test_hpke_message_for_one_suite_does_not_open_under_the_other():
    classic = crypto.KemKey.generate(labels.SUITE_CLASSIC)
    hybrid = crypto.KemKey(labels.SUITE_HYBRID, classic.x25519_raw, b"\x07" * 64)
    sealed = crypto.hpke_seal(labels.SUITE_CLASSIC, classic.public_raw(), b"k", b"i")
    with pytest.raises(DecryptionFailed):
        crypto.hpke_open(hybrid, sealed, b"i")


def test_kemkey_round_trips_through_its_fields():
    key = crypto.KemKey.generate(labels.SUITE_HYBRID)
    again = crypto.KemKey(key.suite, key.x25519_raw, key.mlkem_seed)
    sealed = crypto.hpke_seal(key.suite, key.public_raw(), b"k", b"i")
    assert again.public_raw() == key.public_raw()
    assert crypto.hpke_open(again, sealed, b"i") == b"k"


# --- AEAD and key commitment ---------------------------------------------------------------


def test_aead_round_trip_with_fresh_nonces():
    key = crypto.random_key()
    sealed = crypto.aead_seal(key, b"plaintext", b"aad")
    assert len(sealed) == crypto.NONCE_LEN + len(b"plaintext") + 16
    assert crypto.aead_open(key, sealed, b"aad") == b"plaintext"
    assert crypto.aead_seal(key, b"plaintext", b"aad")[:12] != sealed[:12]


def test_aead_any_flipped_byte_is_decryptionfailed():
    key = crypto.random_key()
    sealed = crypto.aead_seal(key, b"plaintext", b"aad")
    for index in range(len(sealed)):
        with pytest.raises(DecryptionFailed):
            crypto.aead_open(key, _flip(sealed, index), b"aad")


def test_aead_wrong_aad_key_or_length_is_decryptionfailed():
    key = crypto.random_key()
    sealed = crypto.aead_seal(key, b"plaintext", b"aad")
    with pytest.raises(DecryptionFailed):
        crypto.aead_open(key, sealed, b"aae")
    with pytest.raises(DecryptionFailed):
        crypto.aead_open(crypto.random_key(), sealed, b"aad")
    with pytest.raises(DecryptionFailed, match="wrong length"):
        crypto.aead_open(key[:16], sealed, b"aad")
    with pytest.raises(DecryptionFailed, match="too short"):
        crypto.aead_open(key, sealed[:27], b"aad")
    with pytest.raises(DecryptionFailed):
        crypto.aead_open(key, sealed + b"\x00", b"aad")


def test_key_commit_is_hmac_sha256_of_the_label():
    key = bytes(range(32))
    expected = hmac.new(key, b"takusu/key-commit/v1", hashlib.sha256).digest()
    assert crypto.key_commit(key) == expected
    crypto.check_key_commit(key, expected)


def test_key_commit_mismatch_is_integrityerror():
    key, other = crypto.random_key(), crypto.random_key()
    with pytest.raises(IntegrityError, match="key commitment"):
        crypto.check_key_commit(other, crypto.key_commit(key))
    with pytest.raises(IntegrityError):
        crypto.check_key_commit(key, crypto.key_commit(key)[:31])
    with pytest.raises(IntegrityError):
        crypto.check_key_commit(key, b"")


def test_equal_compares_bytes_and_text():
    assert crypto.equal(b"abc", "abc")
    assert not crypto.equal("abc", "abd")
    assert not crypto.equal(b"abc", b"abcd")


def test_hashes():
    assert crypto.sha256(b"x") == hashlib.sha256(b"x").digest()
    assert crypto.sha256_hex(b"x") == hashlib.sha256(b"x").hexdigest()
    assert len(crypto.random_key()) == 32
    assert crypto.random_key() != crypto.random_key()


# --- Argon2id parameter floor and ceiling ---------------------------------------------------

FLOOR = {"alg": "argon2id", "memory_kib": 19456, "iterations": 2, "lanes": 1}


def _with(**changes):
    return {**FLOOR, **changes}


BAD_KDF = {
    "memory below floor": _with(memory_kib=19455),
    "iterations below floor": _with(iterations=1),
    "lanes below floor": _with(lanes=0),
    "negative memory": _with(memory_kib=-1),
    "memory above ceiling": _with(memory_kib=4 * 1024 * 1024 + 1),
    "iterations above ceiling": _with(iterations=65),
    "lanes above ceiling": _with(lanes=65),
    "huge memory": _with(memory_kib=2**53),
    "memory as text": _with(memory_kib="65536"),
    "iterations as float": _with(iterations=3.0),
    "lanes as bool": _with(lanes=True),
    "memory missing": {k: v for k, v in FLOOR.items() if k != "memory_kib"},
    "iterations null": _with(iterations=None),
    "unknown alg": _with(alg="argon2i"),
    "alg missing": {k: v for k, v in FLOOR.items() if k != "alg"},
    "alg upper case": _with(alg="ARGON2ID"),
    "empty": {},
}


@pytest.mark.parametrize("params", BAD_KDF.values(), ids=BAD_KDF.keys())
def test_kdf_params_outside_the_bounds_are_refused(params):
    with pytest.raises(IntegrityError):
        crypto.check_kdf_params(params)


class _MustNotDerive:
    def __init__(self, **kwargs):
        raise AssertionError("Argon2id was constructed")


@pytest.mark.parametrize("params", BAD_KDF.values(), ids=BAD_KDF.keys())
def test_kdf_params_are_checked_before_any_derivation(params, monkeypatch):
    monkeypatch.setattr(crypto, "Argon2id", _MustNotDerive)
    with pytest.raises(IntegrityError):
        crypto.argon2id(b"passphrase", b"s" * 16, params)


def test_the_no_derive_probe_does_catch_a_derivation(monkeypatch):
    """Shows the probe above is wired to the real call site, so its passes mean something."""
    monkeypatch.setattr(crypto, "Argon2id", _MustNotDerive)
    with pytest.raises(AssertionError, match="constructed"):
        crypto.argon2id(b"passphrase", b"s" * 16, FLOOR)


def test_kdf_default_floor_and_ceiling_are_accepted():
    crypto.check_kdf_params(crypto.KDF_DEFAULT)
    crypto.check_kdf_params(FLOOR)
    crypto.check_kdf_params({"alg": "argon2id", **crypto.KDF_CEILING})
    assert crypto.KDF_DEFAULT == {
        "alg": "argon2id",
        "memory_kib": 65536,
        "iterations": 3,
        "lanes": 4,
    }


def test_argon2id_at_the_floor_derives_a_stable_key():
    key = crypto.argon2id(b"correct horse", b"0123456789abcdef", FLOOR)
    assert len(key) == 32
    assert crypto.argon2id(b"correct horse", b"0123456789abcdef", FLOOR) == key
    assert crypto.argon2id(b"correct horse", b"0123456789abcdeF", FLOOR) != key
    assert crypto.argon2id(b"correct horsE", b"0123456789abcdef", FLOOR) != key


def test_argon2id_refuses_a_short_salt():
    with pytest.raises(IntegrityError, match="salt"):
        crypto.argon2id(b"pw", b"s" * 15, FLOOR)


@pytest.mark.parametrize("params", [["argon2id"], "argon2id", 7, None])
def test_kdf_params_that_are_not_an_object_are_integrityerror(params):
    with pytest.raises(IntegrityError):
        crypto.check_kdf_params(params)


# --- redaction -----------------------------------------------------------------------------


def _renderings(secret: bytes) -> list[str]:
    return [secret.hex(), b64e(secret), repr(secret)[2:-1], secret.hex()[:16]]


def test_signing_key_repr_never_shows_the_key():
    key = crypto.SigningKey.generate()
    for text in (repr(key), str(key), f"{key!r}", repr([key])):
        assert "redacted" in text
        for rendering in _renderings(key.raw()):
            assert rendering not in text


@pytest.mark.parametrize("suite", labels.SUITES)
def test_kem_key_repr_never_shows_the_key(suite):
    key = crypto.KemKey.generate(suite)
    for text in (repr(key), str(key), repr({"k": key})):
        assert "redacted" in text
        for secret in (key.x25519_raw, key.mlkem_seed):
            for rendering in _renderings(secret) if secret else []:
                assert rendering not in text
