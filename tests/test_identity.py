"""vault.identity: cards (armor, verification, refused keys), fingerprints, safety codes."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import textwrap
from functools import cache

import pytest

from vault import crypto, labels
from vault.encoding import b64d, b64e, dumps
from vault.errors import BadCard, UnknownVersion
from vault.identity import Card, Identity, normalize_code

P = 2**255 - 19
IDENTITY_POINT = (1).to_bytes(32, "little")
FORGED_SIG = IDENTITY_POINT + bytes(32)  # verifies every message under IDENTITY_POINT
NAME_RULE = "card name must be 1 to 100 printable characters"
LOW_ORDER_U = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")


@cache
def person(name: str, suite: str = labels.SUITE_CLASSIC) -> Identity:
    return Identity.generate(name, suite)


def payload_of(card: Card) -> dict:
    return json.loads(b64d(card.envelope["p"]))


def signed_envelope(payload: dict | bytes, signer: crypto.SigningKey) -> dict:
    data = payload if isinstance(payload, bytes) else dumps(payload)
    return {"v": 1, "p": b64e(data), "s": b64e(signer.sign(labels.CARD_SIG, data))}


def resigned(who: Identity, **changes) -> dict:
    """The person's card payload with `changes`, signed again with their own key."""
    return signed_envelope({**payload_of(who.card), **changes}, who.signing)


def armor_body(card: Card) -> str:
    return base64.b64encode(dumps(card.envelope)).decode()


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("suite", labels.SUITES)
def test_card_round_trips_through_armor(suite):
    card = person("Alice", suite).card
    text = card.armor()
    assert text.startswith(labels.CARD_ARMOR_BEGIN + "\n")
    assert f"Safety code: {card.safety_code}" in text
    assert "Name: Alice" in text
    again = Card.from_armor(text)
    assert again == card
    assert again.fingerprint == card.fingerprint
    assert Card.from_envelope(card.envelope) == card


@pytest.mark.parametrize("suite", labels.SUITES)
@pytest.mark.parametrize("width", [40, 76])
def test_card_survives_mail_quoting_and_rewrapping(suite, width):
    card = person("Alice", suite).card
    lines = [
        labels.CARD_ARMOR_BEGIN,
        f"Name: {card.name}",
        f"Safety code: {card.safety_code}",
        "",
        *textwrap.wrap(armor_body(card), width),
        labels.CARD_ARMOR_END,
    ]
    mail = "Hi, here is my card:\r\n\r\n" + "\r\n".join("> " + line for line in lines)
    mail += "\r\n\r\nThanks! Call me at 10:00 to compare the code.\r\n"
    assert Card.from_armor(mail) == card
    indented = "\n".join("    " + line for line in card.armor().splitlines())
    assert Card.from_armor(indented) == card
    assert Card.from_armor(">>" + card.armor().replace("\n", "\n>>")) == card


def test_card_survives_a_reply_to_a_reply():
    card = person("Alice").card
    for prefix in ("> > ", ">> ", "> >> ", " >  > "):
        quoted = "\n".join(prefix + line for line in card.armor().splitlines())
        assert Card.from_armor(quoted) == card


def test_card_json_envelope_round_trip_keeps_the_signed_bytes():
    card = person("Alice").card
    again = Card.from_envelope(json.loads(json.dumps(card.envelope)))
    assert again.envelope == card.envelope
    assert again.sign_key == person("Alice").signing.public_raw()
    assert again.kem_key == person("Alice").kem.public_raw()


# --- refused cards -------------------------------------------------------------------------


def test_card_with_a_bad_signature_is_refused():
    card = person("Alice").card
    sig = bytearray(b64d(card.envelope["s"]))
    sig[5] ^= 0x40
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope({**card.envelope, "s": b64e(bytes(sig))})


def test_card_signed_by_someone_else_is_refused():
    alice, mallory = person("Alice"), person("Mallory")
    forged = signed_envelope(payload_of(alice.card), mallory.signing)
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope(forged)


def test_card_signature_is_domain_separated_from_events():
    alice = person("Alice")
    data = b64d(alice.card.envelope["p"])
    event_sig = alice.signing.sign(labels.EVENT_SIG, data)
    with pytest.raises(BadCard, match="signature"):
        Card.from_envelope({"v": 1, "p": b64e(data), "s": b64e(event_sig)})


def test_card_with_a_swapped_hpke_key_is_refused():
    """The HPKE key is bound by the signature: swapping it in breaks the card."""
    alice, mallory = person("Alice"), person("Mallory")
    payload = payload_of(alice.card)
    payload["kem"] = b64e(mallory.kem.public_raw())
    tampered = {**alice.card.envelope, "p": b64e(dumps(payload))}
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope(tampered)


def test_card_with_a_changed_name_is_refused():
    alice = person("Alice")
    payload = {**payload_of(alice.card), "name": "Alice (bank)"}
    with pytest.raises(BadCard, match="signature"):
        Card.from_envelope({**alice.card.envelope, "p": b64e(dumps(payload))})


@pytest.mark.parametrize("v", [0, 2, "1", None])
def test_card_envelope_of_unknown_version_is_refused(v):
    with pytest.raises(UnknownVersion):
        Card.from_envelope({**person("Alice").card.envelope, "v": v})


def test_card_payload_of_unknown_version_is_refused():
    with pytest.raises(UnknownVersion):
        Card.from_envelope(resigned(person("Alice"), v=2))


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        [],
        "card",
        {"v": 1, "p": "e30"},
        {"v": 1, "p": "e30", "s": "", "x": 1},
    ],
)
def test_card_envelope_with_wrong_fields_is_refused(envelope):
    with pytest.raises(BadCard, match="malformed"):
        Card.from_envelope(envelope)


def test_card_payload_with_wrong_fields_is_refused():
    alice = person("Alice")
    payload = payload_of(alice.card)
    for changed in (
        {**payload, "extra": 1},
        {k: v for k, v in payload.items() if k != "created"},
        {**payload, "type": "event"},
    ):
        with pytest.raises(BadCard, match="wrong fields"):
            Card.from_envelope(signed_envelope(changed, alice.signing))
    with pytest.raises(BadCard, match="wrong fields"):
        Card.from_envelope(signed_envelope(b"[1,2]", alice.signing))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, NAME_RULE),
        ({"name": "   "}, NAME_RULE),
        ({"name": "x" * 101}, NAME_RULE),
        ({"name": 7}, NAME_RULE),
        ({"name": None}, NAME_RULE),
        ({"name": "Ali\x1bce"}, NAME_RULE),
        ({"name": "Ali\nce"}, NAME_RULE),
        ({"suite": "RSA"}, "unknown suite"),
        ({"created": 1700000000}, "creation time"),
    ],
)
def test_card_payload_with_bad_values_is_refused(changes, message):
    with pytest.raises(BadCard, match=message):
        Card.from_envelope(resigned(person("Alice"), **changes))


@pytest.mark.parametrize(
    "name",
    ["Ali\x7fce", "Ali\x9b2Jce", "Ali\x85ce", "Alice\u202egnp.exe", "Ali\u200bce"],
    ids=["DEL", "C1 CSI", "C1 NEL", "bidi override", "zero width space"],
)
def test_card_name_with_other_control_or_format_characters_is_refused(name):
    with pytest.raises(BadCard, match=NAME_RULE):
        Card.from_envelope(resigned(person("Alice"), name=name))
    with pytest.raises(BadCard):
        Identity.generate(name, labels.SUITE_CLASSIC)


def test_card_name_with_a_lone_surrogate_is_refused():
    alice = person("Alice")
    data = dumps(payload_of(alice.card)).replace(b'"name":"Alice"', b'"name":"Al\\ud800ice"')
    assert b"ud800" in data
    with pytest.raises(BadCard, match="surrogate|" + NAME_RULE):
        Card.from_envelope(signed_envelope(data, alice.signing))


@pytest.mark.parametrize("name", ["田中 花子", "Zoë O'Brien-Łukasz", "秘書 (assistant)"])
def test_card_names_in_any_script_are_accepted(name):
    assert Card.from_envelope(resigned(person("Alice"), name=name)).name == name


@pytest.mark.parametrize(
    "field, value",
    [("p", "e30="), ("p", "e30+"), ("s", "AB"), ("p", 5)],
)
def test_card_envelope_with_bad_base64_is_refused(field, value):
    envelope = {**person("Alice").card.envelope, field: value}
    with pytest.raises(BadCard, match="malformed"):
        Card.from_envelope(envelope)


def test_card_payload_with_bad_base64_keys_is_refused():
    alice = person("Alice")
    sign = payload_of(alice.card)["sign"]
    for changes in ({"sign": sign + "="}, {"kem": "!!"}, {"sign": None}):
        with pytest.raises(BadCard, match="malformed"):
            Card.from_envelope(resigned(alice, **changes))


def test_armor_with_damaged_base64_is_refused():
    text = person("Alice").card.armor()
    lines = text.splitlines()
    lines[5] = lines[5][:10] + "*" + lines[5][11:]
    with pytest.raises(BadCard, match="characters that do not belong"):
        Card.from_armor("\n".join(lines))


def test_armor_with_any_changed_base64_character_is_refused():
    card = person("Alice").card
    body = armor_body(card)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    # The last quantum may carry padding bits that decode to the same bytes: skip it.
    for index in range(len(body) - 4):
        swapped = alphabet[(alphabet.index(body[index]) + 1) % 64]
        damaged = body[:index] + swapped + body[index + 1 :]
        text = f"{labels.CARD_ARMOR_BEGIN}\n{damaged}\n{labels.CARD_ARMOR_END}\n"
        with pytest.raises((BadCard, UnknownVersion)):  # "v":1 may become "v":3
            Card.from_armor(text)
    assert Card.from_armor(f"{labels.CARD_ARMOR_BEGIN}\n{body}\n{labels.CARD_ARMOR_END}") == card


def test_armor_without_a_card_or_too_large_is_refused():
    with pytest.raises(BadCard, match="no takusu card"):
        Card.from_armor("hello")
    with pytest.raises(BadCard, match="no takusu card"):
        Card.from_armor(person("Alice").card.armor().replace(labels.CARD_ARMOR_END, ""))
    with pytest.raises(BadCard, match="too large"):
        Card.from_armor(person("Alice").card.armor() + " " * labels.MAX_CARD)
    not_json = base64.b64encode(b"not json").decode()
    with pytest.raises(BadCard, match="damaged"):
        Card.from_armor(f"{labels.CARD_ARMOR_BEGIN}\n{not_json}\n{labels.CARD_ARMOR_END}")


def _card_with_sign_key(sign_key: bytes, sig: bytes) -> dict:
    payload = {**payload_of(person("Alice").card), "sign": b64e(sign_key)}
    data = dumps(payload)
    return {"v": 1, "p": b64e(data), "s": b64e(sig)}


def test_card_with_identity_signing_key_is_refused_as_small_order():
    """This card's forged signature WOULD verify in cryptography; the key check fires first."""
    with pytest.raises(BadCard, match="small-order point"):
        Card.from_envelope(_card_with_sign_key(IDENTITY_POINT, FORGED_SIG))


SMALL_ORDER_SIGN_KEYS = {
    "y=0": (0).to_bytes(32, "little"),
    "y=p-1": (P - 1).to_bytes(32, "little"),
    "order 8": bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    "identity, sign bit set": (1 + 2**255).to_bytes(32, "little"),
}


@pytest.mark.parametrize("key", SMALL_ORDER_SIGN_KEYS.values(), ids=SMALL_ORDER_SIGN_KEYS.keys())
def test_card_with_small_order_signing_key_is_refused(key):
    with pytest.raises(BadCard, match="small-order point"):
        Card.from_envelope(_card_with_sign_key(key, FORGED_SIG))


@pytest.mark.parametrize("y", [P, P + 1, 2**255 - 1])
def test_card_with_non_canonical_signing_key_is_refused(y):
    with pytest.raises(BadCard, match="not canonically encoded"):
        Card.from_envelope(_card_with_sign_key(y.to_bytes(32, "little"), FORGED_SIG))


def test_card_with_low_order_x25519_key_is_refused():
    """Validly signed by its owner, but the HPKE key is a low-order point."""
    with pytest.raises(BadCard, match="low-order"):
        Card.from_envelope(resigned(person("Alice"), kem=b64e(LOW_ORDER_U)))


def test_hybrid_card_with_low_order_x25519_half_is_refused():
    bob = person("Bob", labels.SUITE_HYBRID)
    kem = bob.kem.public_raw()[: crypto.MLKEM768_PUB_LEN] + LOW_ORDER_U
    with pytest.raises(BadCard, match="low-order"):
        Card.from_envelope(resigned(bob, kem=b64e(kem)))


def test_card_whose_key_does_not_fit_its_suite_is_refused():
    alice = person("Alice")  # classic: a 32-byte key cannot be a hybrid key
    with pytest.raises(BadCard, match="wrong length"):
        Card.from_envelope(resigned(alice, suite=labels.SUITE_HYBRID))


# --- fingerprint and safety code -----------------------------------------------------------


def test_safety_code_is_six_groups_of_five_digits():
    for suite in labels.SUITES:
        code = person("Alice", suite).card.safety_code
        assert re.fullmatch(r"\d{5}( \d{5}){5}", code), code


def test_safety_code_is_equal_for_equal_cards_and_differs_between_people():
    alice = person("Alice").card
    assert Card.from_armor(alice.armor()).safety_code == alice.safety_code
    codes = {person(n).card.safety_code for n in ("Alice", "Bob", "Carol", "Mallory")}
    assert len(codes) == 4


def test_fingerprint_is_sha256_over_suite_and_public_keys():
    card = person("Alice").card
    expected = hashlib.sha256(
        b"takusu/fingerprint/v1\n" + card.suite.encode() + b"\n" + card.sign_key + card.kem_key
    ).digest()
    assert card.fingerprint == expected
    assert card.id == expected.hex()[:32]
    groups = card.safety_code.split()
    assert groups[0] == f"{int.from_bytes(expected[:5], 'big') % 100000:05d}"


def test_fingerprint_changes_when_any_public_key_changes():
    card, other = person("Alice").card, person("Bob").card
    variants = [
        dataclasses.replace(card, sign_key=other.sign_key),
        dataclasses.replace(card, kem_key=other.kem_key),
        dataclasses.replace(card, sign_key=card.sign_key[:-1] + bytes([card.sign_key[-1] ^ 1])),
        dataclasses.replace(card, kem_key=card.kem_key[:-1] + bytes([card.kem_key[-1] ^ 1])),
        dataclasses.replace(card, suite=labels.SUITE_HYBRID),
    ]
    prints = {v.fingerprint for v in variants} | {card.fingerprint}
    assert len(prints) == len(variants) + 1
    assert len({v.safety_code for v in variants} | {card.safety_code}) == len(variants) + 1


def test_fingerprint_names_the_keys_not_the_name():
    alice = person("Alice")
    renamed = Card.from_envelope(resigned(alice, name="Alice B.", created="2030-01-01T00:00:00Z"))
    assert renamed.fingerprint == alice.card.fingerprint
    assert renamed.name == "Alice B."


def test_normalize_code_keeps_digits_only():
    assert normalize_code("12345 67890") == normalize_code("12345-67890\n") == "1234567890"


# --- the private identity ------------------------------------------------------------------


@pytest.mark.parametrize("suite", labels.SUITES)
def test_identity_private_bytes_round_trip(suite):
    me = person("Alice", suite)
    again = Identity.from_private_bytes(me.private_bytes())
    assert again.id == me.id
    assert again.card == me.card
    assert again.signing.raw() == me.signing.raw()
    assert again.kem.public_raw() == me.kem.public_raw()
    sealed = crypto.hpke_seal(suite, me.card.kem_key, b"k", b"i")
    assert crypto.hpke_open(again.kem, sealed, b"i") == b"k"
    sig = again.signing.sign(labels.EVENT_SIG, b"m")
    crypto.verify(me.card.sign_key, labels.EVENT_SIG, b"m", sig)


def test_identity_with_keys_of_another_card_is_refused():
    alice, bob = person("Alice"), person("Bob")
    doc = json.loads(alice.private_bytes())
    doc["card"] = bob.card.envelope
    with pytest.raises(BadCard, match="do not match"):
        Identity.from_private_bytes(dumps(doc))


def test_identity_of_unknown_version_is_refused():
    doc = json.loads(person("Alice").private_bytes())
    with pytest.raises(UnknownVersion):
        Identity.from_private_bytes(dumps({**doc, "v": 2}))


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\tb"])
def test_identity_generate_refuses_bad_names(name):
    with pytest.raises(BadCard):
        Identity.generate(name, labels.SUITE_CLASSIC)


def test_identity_generate_picks_the_hybrid_suite_when_available():
    assert Identity.generate("Dora").card.hybrid is True


@pytest.mark.parametrize("suite", labels.SUITES)
def test_identity_repr_is_redacted(suite):
    me = person("Alice", suite)
    secrets = [s for s in (me.signing.raw(), me.kem.x25519_raw, me.kem.mlkem_seed) if s]
    for text in (repr(me), str(me), repr(me.signing), repr(me.kem), repr([me])):
        for secret in secrets:
            for rendering in (secret.hex(), b64e(secret), repr(secret)[2:-1]):
                assert rendering not in text
    assert "redacted" in repr(me) and "Alice" in repr(me)


def test_a_card_verified_once_is_kept_by_its_exact_fields_and_nothing_else():
    """A long-lived process keeps verified cards: the same envelope again is the same card
    without a second verification; a changed signature, payload or version type is
    verified (and refused) as ever."""
    from vault import crypto as crypto_module
    from vault.errors import TakusuError
    from vault.identity import Card, Identity

    card = Identity.generate("Kept Card").card
    env = dict(card.envelope)
    assert Card.from_envelope(env) == card
    calls = []
    real = crypto_module.verify

    def counted(*args):
        calls.append(1)
        return real(*args)

    crypto_module.verify = counted
    try:
        assert Card.from_envelope(dict(env)) == card and calls == []
        other = Identity.generate("Other Card").card.envelope
        for forged in ({**env, "s": other["s"]}, {**env, "p": other["p"]}, {**env, "v": True}):
            with pytest.raises(TakusuError):
                Card.from_envelope(forged)
        assert len(calls) >= 2  # the forged ones were verified, not looked up
    finally:
        crypto_module.verify = real
