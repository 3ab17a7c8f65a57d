"""vault.envelope: item AEAD envelopes, owner wraps, grantee HPKE wraps, key commitment."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import crypto, envelope, labels
from vault.encoding import b64d, b64e, loads
from vault.errors import DecryptionFailed, IntegrityError, Malformed
from vault.identity import Identity

VAULT = "0a" * 16
ITEM = "1b" * 16
OTHER_ITEM = "2c" * 16
PAYLOAD = {
    "title": "Bank of Example",
    "username": "alice@example.com",
    "password": "hunter2 — ünïcødé",
    "url": "https://bank.example",
    "notes": None,
    "totp": "otpauth://totp/Bank?secret=JBSWY3DPEHPK3PXP",
    "fields": {"pin": "1234"},
    "tags": ["money"],
}


@cache
def person(name: str, suite: str = labels.SUITE_CLASSIC) -> Identity:
    return Identity.generate(name, suite)


@cache
def vault_key() -> bytes:
    return crypto.random_key()


@cache
def sealed(version: int = 1) -> tuple[dict, bytes]:
    grantees = [person("Sec"), person("Hyb", labels.SUITE_HYBRID)]
    body, key = envelope.seal_item(
        VAULT, ITEM, version, PAYLOAD, vault_key(), [g.card for g in grantees]
    )
    return body, key


def _flip(data: bytes, index: int, mask: int = 1) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


# --- round trips ---------------------------------------------------------------------------


def test_item_put_body_has_the_documented_fields():
    body, key = sealed()
    assert set(body) == {"item", "version", "aead", "ct", "key_commit", "owner_wrap", "wraps"}
    assert body["item"] == ITEM and body["version"] == 1 and body["aead"] == "CHACHA20_POLY1305"
    assert set(body["wraps"]) == {person("Sec").id, person("Hyb", labels.SUITE_HYBRID).id}
    assert b64d(body["key_commit"]) == crypto.key_commit(key)
    for secret in (b"hunter2", b"Bank of Example", b"alice@example.com"):
        assert secret not in b64d(body["ct"])
        assert secret.decode() not in str(body)


def test_owner_round_trip():
    body, key = sealed()
    data_key = envelope.owner_data_key(VAULT, ITEM, body, vault_key())
    assert data_key == key
    assert envelope.open_item(VAULT, ITEM, body, data_key) == PAYLOAD


@pytest.mark.parametrize("suite", labels.SUITES)
def test_grantee_round_trip(suite):
    me = person("Sec") if suite == labels.SUITE_CLASSIC else person("Hyb", suite)
    body, key = sealed()
    data_key = envelope.grantee_data_key(
        VAULT, ITEM, 1, body["wraps"][me.id], body["key_commit"], me
    )
    assert data_key == key
    assert envelope.open_item(VAULT, ITEM, body, data_key) == PAYLOAD


def test_missing_fields_are_stored_as_null():
    body, key = envelope.seal_item(VAULT, ITEM, 1, {"title": "t"}, vault_key(), [])
    assert body["wraps"] == {}
    opened = envelope.open_item(VAULT, ITEM, body, key)
    assert opened == {name: ("t" if name == "title" else None) for name in envelope.ITEM_FIELDS}


def test_every_version_gets_a_fresh_data_key():
    one, key_one = sealed(1)
    two, key_two = sealed(2)
    again, key_again = envelope.seal_item(VAULT, ITEM, 1, PAYLOAD, vault_key(), [])
    assert len({key_one, key_two, key_again}) == 3
    assert one["ct"] != again["ct"]


def test_payload_is_padded_to_hide_its_length():
    short = envelope.encode_payload({"title": "a", "password": "b"})
    longer = envelope.encode_payload({"title": "a", "password": "b" * 20})
    assert len(short) % envelope.PAD == 0 and len(short) == len(longer)
    assert envelope.decode_payload(longer)["password"] == "b" * 20
    body_a, key_a = envelope.seal_item(VAULT, ITEM, 1, {"password": "x"}, vault_key(), [])
    body_b, key_b = envelope.seal_item(VAULT, ITEM, 1, {"password": "x" * 20}, vault_key(), [])
    assert len(b64d(body_a["ct"])) == len(b64d(body_b["ct"])) == 12 + 128 + 16
    plain = crypto.aead_open(key_a, b64d(body_a["ct"]), envelope.item_aad(VAULT, ITEM, 1))
    assert plain.endswith(b" ") and len(plain) == 128


def test_aad_and_info_strings_bind_every_field():
    assert envelope.item_aad("v", "i", 3) == b"takusu/item/v1\nv\ni\n3"
    assert envelope.wrap_info("v", "i", 3, "m") == b"takusu/wrap/v1\nv\ni\n3\nm"
    assert envelope.vault_key_info("v", "o") == b"takusu/vault-key/v1\nv\no"


# --- tampering -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_of_the_item_ciphertext_is_decryptionfailed(data):
    body, key = sealed()
    ct = b64d(body["ct"])
    index = data.draw(st.integers(0, len(ct) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="mask")
    damaged = {**body, "ct": b64e(_flip(ct, index, mask))}
    with pytest.raises(DecryptionFailed):
        envelope.open_item(VAULT, ITEM, damaged, key)


def test_truncated_or_extended_ciphertext_is_decryptionfailed():
    body, key = sealed()
    ct = b64d(body["ct"])
    for variant in (ct[:-1], ct[:27], b"", ct + b"\x00", ct[12:]):
        with pytest.raises(DecryptionFailed):
            envelope.open_item(VAULT, ITEM, {**body, "ct": b64e(variant)}, key)


def test_ciphertext_moved_to_another_item_version_or_vault_is_decryptionfailed():
    body, key = sealed()
    with pytest.raises(DecryptionFailed, match="does not decrypt"):
        envelope.open_item(VAULT, OTHER_ITEM, body, key)
    with pytest.raises(DecryptionFailed):
        envelope.open_item(VAULT, ITEM, {**body, "version": 2}, key)
    with pytest.raises(DecryptionFailed):
        envelope.open_item("ff" * 16, ITEM, body, key)


def test_item_ciphertext_under_another_key_is_decryptionfailed():
    body, _ = sealed()
    with pytest.raises(DecryptionFailed):
        envelope.open_item(VAULT, ITEM, body, crypto.random_key())


def test_decryption_error_names_the_item_but_no_secret():
    body, key = sealed()
    with pytest.raises(DecryptionFailed) as info:
        envelope.open_item(VAULT, OTHER_ITEM, body, key)
    assert OTHER_ITEM[:8] in str(info.value)
    assert key.hex() not in str(info.value) and "hunter2" not in str(info.value)


def test_grantee_wrap_moved_to_another_item_version_or_vault_is_decryptionfailed():
    body, _ = sealed()
    me = person("Sec")
    wrap, commit = body["wraps"][me.id], body["key_commit"]
    for vault_id, item_id, version in (
        (VAULT, OTHER_ITEM, 1),
        (VAULT, ITEM, 2),
        ("0b" * 16, ITEM, 1),
    ):
        with pytest.raises(DecryptionFailed):
            envelope.grantee_data_key(vault_id, item_id, version, wrap, commit, me)


def test_grantee_wrap_moved_to_another_member_is_decryptionfailed():
    body, _ = sealed()
    sec, other = person("Sec"), person("Other")
    with pytest.raises(DecryptionFailed):
        envelope.grantee_data_key(VAULT, ITEM, 1, body["wraps"][sec.id], body["key_commit"], other)


def test_wrap_sealed_to_the_right_key_but_for_another_member_id_is_refused():
    """info binds the grantee id: a wrap made out to X opens for nobody but X."""
    sec = person("Sec")
    _, key = sealed()
    info = envelope.wrap_info(VAULT, ITEM, 1, person("Other").id)
    wrap = b64e(crypto.hpke_seal(sec.card.suite, sec.card.kem_key, key, info))
    with pytest.raises(DecryptionFailed):
        envelope.grantee_data_key(VAULT, ITEM, 1, wrap, b64e(crypto.key_commit(key)), sec)


def test_owner_wrap_moved_to_another_item_or_version_is_decryptionfailed():
    body, _ = sealed()
    with pytest.raises(DecryptionFailed, match="owner wrap"):
        envelope.owner_data_key(VAULT, OTHER_ITEM, body, vault_key())
    with pytest.raises(DecryptionFailed):
        envelope.owner_data_key(VAULT, ITEM, {**body, "version": 2}, vault_key())
    with pytest.raises(DecryptionFailed):
        envelope.owner_data_key(VAULT, ITEM, body, crypto.random_key())


def test_wraps_from_another_version_fail_the_key_commitment():
    """Version 2's owner wrap pasted into version 1: opens, but the key is not v1's."""
    one, _ = sealed(1)
    two, _ = sealed(2)
    spliced = {**two, "key_commit": one["key_commit"]}
    with pytest.raises(IntegrityError, match="key commitment") as info:
        envelope.owner_data_key(VAULT, ITEM, spliced, vault_key())
    assert not isinstance(info.value, DecryptionFailed)


def test_data_key_not_matching_the_key_commit_is_integrityerror():
    body, _ = sealed()
    other, _ = sealed(2)
    me = person("Sec")
    with pytest.raises(IntegrityError, match="key commitment"):
        envelope.grantee_data_key(VAULT, ITEM, 1, body["wraps"][me.id], other["key_commit"], me)
    # A grantee wrap of some other key, correctly bound to this item, fails the commitment.
    stray = crypto.random_key()
    wrap = envelope.wrap_for(VAULT, ITEM, 1, me.card, stray)
    with pytest.raises(IntegrityError, match="key commitment"):
        envelope.grantee_data_key(VAULT, ITEM, 1, wrap, body["key_commit"], me)


def test_malformed_item_fields_are_malformed():
    body, key = sealed()
    with pytest.raises(Malformed, match="unknown kind of encryption"):
        envelope.open_item(VAULT, ITEM, {**body, "aead": "AES_256_GCM"}, key)
    with pytest.raises(Malformed):
        envelope.open_item(VAULT, ITEM, {**body, "ct": body["ct"] + "="}, key)
    with pytest.raises(Malformed):
        envelope.owner_data_key(VAULT, ITEM, {**body, "key_commit": "A"}, vault_key())


@pytest.mark.parametrize(
    "plain",
    [
        b"[]",
        b'{"title":"x"}',
        b"not json",
        b'{"fields":null,"notes":null,"password":null,"tags":null,"title":1,'
        b'"totp":null,"url":null,"username":null,"extra":1}',
        b'{"fields":null,"notes":null,"password":null,"password":"x","tags":null,"title":1,'
        b'"totp":null,"url":null,"username":null}',
    ],
)
def test_a_decrypting_but_malformed_payload_is_malformed(plain):
    key = crypto.random_key()
    ct = crypto.aead_seal(key, plain, envelope.item_aad(VAULT, ITEM, 1))
    item = {"version": 1, "aead": labels.ITEM_AEAD, "ct": b64e(ct)}
    with pytest.raises(Malformed):
        envelope.open_item(VAULT, ITEM, item, key)


# --- the vault key -------------------------------------------------------------------------


@pytest.mark.parametrize("suite", labels.SUITES)
def test_vault_key_wrap_round_trip_and_binding(suite):
    owner = person("Owner", suite)
    wrap = envelope.wrap_vault_key(VAULT, owner.card, vault_key())
    assert envelope.open_vault_key(VAULT, owner, wrap) == vault_key()
    with pytest.raises(DecryptionFailed):
        envelope.open_vault_key("0c" * 16, owner, wrap)
    with pytest.raises(DecryptionFailed):
        envelope.open_vault_key(VAULT, person("Other", suite), wrap)


def test_vault_key_of_the_wrong_length_is_refused():
    owner = person("Owner")
    info = envelope.vault_key_info(VAULT, owner.id)
    short = b64e(crypto.hpke_seal(owner.card.suite, owner.card.kem_key, b"k" * 16, info))
    with pytest.raises(IntegrityError, match="wrong length"):
        envelope.open_vault_key(VAULT, owner, short)


def test_decode_payload_is_strict_json():
    good = envelope.encode_payload(PAYLOAD)
    assert envelope.decode_payload(good) == PAYLOAD
    assert loads(good) == PAYLOAD
    duplicated = good.replace(b'"tags":["money"]', b'"tags":["money"],"tags":[]')
    assert duplicated != good
    with pytest.raises(Malformed, match="duplicate"):
        envelope.decode_payload(duplicated)
