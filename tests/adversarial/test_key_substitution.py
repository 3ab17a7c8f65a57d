"""Adversarial catalogue, class 2: key substitution.

Whoever relays cards (mail, chat) or writes to the shared folder tries to slip in a key
that is not the one two people confirmed by reading a safety code aloud. Each test
names the one refusal it expects; a refused card never reaches the signed log.
"""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from tests.helpers import ok
from tests.logs import (
    append_raw,
    edit_vault_json,
    grant_wrap,
    next_event,
    payload,
    read_lines,
    sign_as,
    with_payload,
    write_lines,
)
from tests.outcomes import assert_exit3_at, assert_problem, fresh_load
from vault import crypto, envelope, labels
from vault.clock import now_utc
from vault.encoding import b64d, b64e, dumps
from vault.errors import BadCard, DecryptionFailed
from vault.identity import Card, Identity

P = 2**255 - 19
IDENTITY_POINT = (1).to_bytes(32, "little")
# R = the identity point, S = 0: valid for EVERY message under the identity key
# when small-order keys are not refused (cryptography/OpenSSL accept them).
FORGED_SIG = IDENTITY_POINT + bytes(32)


# --- crafting cards -------------------------------------------------------------------------


def card_envelope(
    *, name: str, sign: bytes, kem: bytes, suite: str, signer=None, sig: bytes | None = None
) -> dict:
    """A card envelope with exactly these keys; signed by `signer` or carrying `sig`."""
    raw = dumps(
        {
            "v": labels.FORMAT_VERSION,
            "type": "card",
            "name": name,
            "sign": b64e(sign),
            "kem": b64e(kem),
            "suite": suite,
            "created": now_utc(),
        }
    )
    if sig is None:
        sig = signer.sign(labels.CARD_SIG, raw)
    return {"v": labels.FORMAT_VERSION, "p": b64e(raw), "s": b64e(sig)}


def forged_sig_card(sign: bytes) -> dict:
    """A classical card of 'Mallory' with signing key `sign` and the universal forged
    signature in place of a real one."""
    kem = Identity.generate("x", labels.SUITE_CLASSIC).card.kem_key
    return card_envelope(
        name="Mallory", sign=sign, kem=kem, suite=labels.SUITE_CLASSIC, sig=FORGED_SIG
    )


def mallory_card(kem: bytes) -> dict:
    """A classical card with HPKE key `kem`, properly signed by a new 'Mallory'."""
    mallory = Identity.generate("Mallory", labels.SUITE_CLASSIC)
    return card_envelope(
        name="Mallory",
        sign=mallory.card.sign_key,
        kem=kem,
        suite=labels.SUITE_CLASSIC,
        signer=mallory.signing,
    )


def relayed_card(real: Card, key: str, value: bytes) -> dict:
    """The real card with one key field swapped by the relay, keeping the real signature."""
    fields = json.loads(b64d(real.envelope["p"]))
    fields[key] = b64e(value)
    return {**real.envelope, "p": b64e(dumps(fields))}


def armor(env: dict) -> str:
    """The text `takusu card` would print for this envelope (no header lines needed)."""
    body = base64.b64encode(dumps(env)).decode()
    return "\n".join([labels.CARD_ARMOR_BEGIN, *textwrap.wrap(body, 64), labels.CARD_ARMOR_END, ""])


def add_card(world, env_or_text, name: str, code: str = "00000 00000 00000 00000 00000 00000"):
    text = env_or_text if isinstance(env_or_text, str) else armor(env_or_text)
    path = world.root / f"{name}.card"
    path.write_text(text)
    return world.member_add(path, name, code)


def assert_refused_card(world, result, words: str) -> None:
    """Exit 3 naming the defect, and the owner log did not grow."""
    assert result.code == 3 and words in result.err, result
    assert not any(
        payload(line)["type"] == "member.add" and payload(line)["name"] == "mallory"
        for line in read_lines(world.owner_log)
    )


# --- 1. a card swapped in the folder ------------------------------------------------------


def test_owner_card_swapped_in_vault_json_is_pin_mismatch_on_every_machine(world):
    """vault.json's owner_card replaced by Mallory's: both pinned machines stop (exit 3)."""
    mallory = Identity.generate("Acme client")  # same display name
    edit_vault_json(world.folder, owner_card=mallory.card.envelope)
    for who in (world.c, world.s):
        r = who("list")
        assert r.code == 3 and "owner has changed" in r.err and r.out == ""
    r = world.s("get", "GitHub")
    assert r.code == 3 and r.out == ""


def test_forged_vault_under_the_same_id_is_pin_mismatch(world):
    """Mallory rebuilds the whole folder under the same vault id with her own genesis and
    card: the secretary's pin on the owner's fingerprint refuses it."""
    mallory = Identity.generate("Acme client")
    vault_id = world.vault_id
    edit_vault_json(world.folder, owner_card=mallory.card.envelope)
    forged = world.folder / "logs" / f"{mallory.id}.jsonl"
    append_raw(
        forged,
        next_event(
            mallory,
            forged,
            vault_id,
            "vault.create",
            {"name": "acme", "owner_card": mallory.card.envelope, "vault_key_wrap": "AAAA"},
        ),
    )
    r = world.s("list")
    assert r.code == 3 and "owner has changed" in r.err


def test_member_card_edited_in_the_member_add_event_breaks_the_owner_signature(world, tmp_path):
    """A member's card only comes from the owner-signed member.add (seq 3): swapping in
    Mallory's card there is 'tampered' at seq 3 for a fresh machine and for audit verify."""
    log = world.owner_log
    lines = read_lines(log)
    fields = payload(lines[3])
    assert fields["type"] == "member.add"
    mallory = Identity.generate("Aiko")
    fields["card"], fields["member"] = mallory.card.envelope, mallory.id
    lines[3] = with_payload(lines[3], fields)
    write_lines(log, lines)
    owner = world.identity(world.client)
    fresh = fresh_load(world.folder, tmp_path / "fresh", world.vault_id, owner.card)
    problem = assert_problem(fresh.problems, "tampered", owner.id, 3)
    assert "signature" in problem.message and fresh.state["members"] == {}
    assert_exit3_at(world.c("audit", "verify"), owner.id, 3)


def test_member_log_signed_by_a_substituted_key_is_bad_signature(world):
    """Mallory writes receipts into aiko's log file (right name, right chain, her key)."""
    mallory = Identity.generate("Aiko")
    sec_id = world.member_id
    vault_id = world.vault_id
    log = world.member_log
    owner = world.client_session()
    fields = payload(
        next_event(
            mallory,
            log,
            vault_id,
            "retrieve",
            {"item": owner.find("GitHub"), "version": 1, "fields": ["password"]},
        )
    )
    fields["actor"] = sec_id
    append_raw(log, sign_as(mallory, fields))
    problem = assert_problem(world.client_session().loaded.problems, "tampered", sec_id, 0)
    assert "signature" in problem.message


# --- 2. unverified first contact ----------------------------------------------------------


def test_member_add_without_a_confirmed_safety_code_is_refused(bare):
    """No terminal and no --safety-code: nothing is added, nothing is written."""
    before = bare.owner_log.read_bytes()
    card = bare.root / "aiko.card"
    card.write_text(ok(bare.s("card")).out)
    r = bare.member_add(card, "aiko", None)
    assert r.code == 1 and "not confirmed" in r.err
    r = bare.member_add(card, "aiko", "12345 67890")
    assert r.code == 1 and "does not match" in r.err
    assert bare.owner_log.read_bytes() == before


def test_vault_open_without_a_confirmed_safety_code_is_refused(bare):
    r = bare.s("vault", "open", str(bare.folder), "--name", "acme")
    assert r.code == 1 and "not confirmed" in r.err
    assert "acme" not in ok(bare.s("vault", "list")).out


def test_first_contact_with_a_swapped_owner_card_fails_the_safety_code(bare):
    """Before the secretary's first open, Mallory swaps vault.json's owner card: the code
    the real client read aloud does not match, so nothing is pinned."""
    edit_vault_json(bare.folder, owner_card=Identity.generate("Acme client").card.envelope)
    r = bare.s(
        "vault", "open", str(bare.folder), "--name", "acme", "--safety-code", bare.code(bare.client)
    )
    assert r.code == 1 and "does not match" in r.err
    assert "acme" not in ok(bare.s("vault", "list")).out


def test_first_contact_with_a_relayed_card_swapped_fails_the_safety_code(bare):
    """The mail relay swaps the secretary's card for Mallory's (same display name): the
    code the secretary read aloud does not match Mallory's card."""
    mallory = Identity.generate("Aiko")
    before = bare.owner_log.read_bytes()
    r = add_card(bare, mallory.card.armor(), "aiko", code=bare.code(bare.secretary))
    assert r.code == 1 and "does not match" in r.err
    assert bare.owner_log.read_bytes() == before


# --- 3. small-order and non-canonical Ed25519 keys ----------------------------------------

SMALL_ORDER_Y = {
    "identity": 1,
    "order 2": P - 1,
    "order 4": 0,
    "order 8a": 2707385501144840649318225287225658788936804267575313519463743609750303402022,
    "order 8b": 55188659117513257062467267217118295137698188065244968500265048394206261417927,
}


@pytest.mark.parametrize("sign_bit", [0, 1], ids=["x+", "x-"])
@pytest.mark.parametrize("y", SMALL_ORDER_Y.values(), ids=SMALL_ORDER_Y.keys())
def test_small_order_ed25519_key_in_a_card_is_refused(world, y, sign_bit):
    """A card whose signing key is a small-order point, with the universal forged signature
    (R = identity, S = 0): refused as small-order before any signature is checked."""
    env = forged_sig_card((y | (sign_bit << 255)).to_bytes(32, "little"))
    with pytest.raises(BadCard, match="small-order"):
        Card.from_envelope(env)
    assert_refused_card(world, add_card(world, env, "mallory"), "small-order")


def test_small_order_key_would_verify_any_forged_event(world):
    """Why the check matters: under the identity key the forged signature passes the raw
    primitive, but takusu's verify refuses the key first."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(IDENTITY_POINT).verify(FORGED_SIG, b"any message")
    with pytest.raises(BadCard, match="small-order"):
        crypto.verify(IDENTITY_POINT, labels.EVENT_SIG, b"any message", FORGED_SIG)


@pytest.mark.parametrize("k", [0, 1, 2, 5, 18])
def test_non_canonical_ed25519_key_in_a_card_is_refused(world, k):
    """y >= p: an alternative encoding (p+1 is the identity point again)."""
    env = forged_sig_card((P + k).to_bytes(32, "little"))
    with pytest.raises(BadCard, match="not canonically encoded"):
        Card.from_envelope(env)
    assert_refused_card(world, add_card(world, env, "mallory"), "not canonically encoded")


# --- 4. low-order X25519 keys -------------------------------------------------------------

LOW_ORDER_U = {
    "zero": 0,
    "one": 1,
    "p-1": P - 1,
    "order 8a": int.from_bytes(
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), "little"
    ),
    "order 8b": int.from_bytes(
        bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), "little"
    ),
}
NON_CANONICAL_U = {"p": P, "p+1": P + 1, "2^255-1": 2**255 - 1}


@pytest.mark.parametrize("u", LOW_ORDER_U.values(), ids=LOW_ORDER_U.keys())
def test_low_order_x25519_key_in_a_properly_signed_card_is_refused(world, u):
    """Mallory signs (with a real key) a card whose HPKE key is low-order: every wrap to it
    would have a predictable shared secret. Refused as low-order."""
    env = mallory_card(u.to_bytes(32, "little"))
    with pytest.raises(BadCard, match="low-order"):
        Card.from_envelope(env)
    assert_refused_card(world, add_card(world, env, "mallory"), "low-order")


@pytest.mark.parametrize("u", NON_CANONICAL_U.values(), ids=NON_CANONICAL_U.keys())
def test_non_canonical_x25519_key_in_a_card_is_refused(world, u):
    env = mallory_card(u.to_bytes(32, "little"))
    with pytest.raises(BadCard, match="not canonically encoded"):
        Card.from_envelope(env)


@pytest.mark.parametrize("u", [0, 1, LOW_ORDER_U["order 8a"]], ids=["zero", "one", "order 8"])
def test_low_order_x25519_half_of_a_hybrid_key_is_refused(world, u):
    """The hybrid key's X25519 half is checked too (ML-KEM alone must not carry the card)."""
    mallory = Identity.generate("Mallory", labels.SUITE_HYBRID)
    kem = mallory.card.kem_key[: crypto.MLKEM768_PUB_LEN] + u.to_bytes(32, "little")
    env = card_envelope(
        name="Mallory",
        sign=mallory.card.sign_key,
        kem=kem,
        suite=labels.SUITE_HYBRID,
        signer=mallory.signing,
    )
    with pytest.raises(BadCard, match="low-order"):
        Card.from_envelope(env)
    assert_refused_card(world, add_card(world, env, "mallory"), "low-order")


# --- 5. an HPKE key not bound by the card signature --------------------------------------


def test_hpke_key_swapped_in_a_relayed_card_is_bad_signature(bare):
    """The relay keeps the secretary's signature and name but swaps in its own HPKE key, so
    wraps would go to the relay: the card signature no longer verifies (exit 3), even with
    the real safety code."""
    real = Card.from_armor(ok(bare.s("card")).out)
    env = relayed_card(real, "kem", Identity.generate("Relay").card.kem_key)
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope(env)
    r = add_card(bare, env, "aiko", code=bare.code(bare.secretary))
    assert r.code == 3 and "signature does not verify" in r.err
    assert "aiko" not in ok(bare.c("member", "list")).out


def test_signing_key_swapped_in_a_relayed_card_is_bad_signature(bare):
    real = Card.from_armor(ok(bare.s("card")).out)
    env = relayed_card(real, "sign", Identity.generate("Relay").card.sign_key)
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope(env)


# --- 6. suite downgrade -------------------------------------------------------------------


def test_suite_field_edited_to_classical_in_a_relayed_card_is_refused(bare):
    """Editing 'suite' in the signed payload breaks the card (wrong key length and
    signature): a relay cannot strip the post-quantum half."""
    real = Card.from_armor(ok(bare.s("card")).out)
    assert real.hybrid
    fields = json.loads(b64d(real.envelope["p"]))
    fields["suite"] = labels.SUITE_CLASSIC
    fields["kem"] = b64e(real.kem_key[-32:])  # keep only the X25519 half
    env = {**real.envelope, "p": b64e(dumps(fields))}
    with pytest.raises(BadCard, match="signature does not verify"):
        Card.from_envelope(env)


def test_suite_downgrade_for_a_known_member_name_is_refused(world):
    """A classical card offered as member 'aiko', who is pinned with a hybrid card."""
    classic = Identity.generate("Aiko", labels.SUITE_CLASSIC)
    r = add_card(world, classic.card.armor(), "aiko", code=classic.card.safety_code)
    assert r.code == 3 and "downgrade" in r.err


def test_suite_downgrade_for_a_known_display_name_is_refused(world):
    """A classical card named 'Aiko' under a new member name: refused as a downgrade."""
    classic = Identity.generate("Aiko", labels.SUITE_CLASSIC)
    r = add_card(world, classic.card.armor(), "aiko-laptop", code=classic.card.safety_code)
    assert r.code == 3 and "downgrade" in r.err


def test_suite_downgrade_after_removal_is_still_refused(world):
    """Even after 'aiko' was offboarded, re-adding that name with a classical card is a
    downgrade (the pin outlives the membership)."""
    ok(world.c("offboard", "aiko"))
    classic = Identity.generate("Aiko", labels.SUITE_CLASSIC)
    r = add_card(world, classic.card.armor(), "aiko", code=classic.card.safety_code)
    assert r.code == 3 and "downgrade" in r.err


# --- 7. display-name collision ------------------------------------------------------------


def test_display_name_collision_with_a_member_is_refused(world):
    """Another card calling itself 'Aiko' (hybrid, so not a downgrade) as member 'aiko2'."""
    impostor = Identity.generate("Aiko")
    r = add_card(world, impostor.card.armor(), "aiko2", code=impostor.card.safety_code)
    assert r.code == 3 and "display name" in r.err
    assert "aiko2" not in ok(world.c("member", "list")).out


def test_member_name_collision_with_different_keys_is_refused(world):
    """A new card (any display name) offered under the existing member name 'aiko'."""
    impostor = Identity.generate("Aiko Tanaka")
    r = add_card(world, impostor.card.armor(), "aiko", code=impostor.card.safety_code)
    assert r.code == 3 and "different keys" in r.err


# --- 8. a wrap moved to another item, version or person ------------------------------------


def test_wrap_moved_to_another_item_version_vault_or_person_does_not_open(world):
    """HPKE info binds vault, item, version and grantee: every move is DecryptionFailed."""
    sec = world.secretary_session()
    owner = world.client_session()
    github, bank = owner.find("GitHub"), owner.find("Bank")
    wrap = grant_wrap(world.owner_log, github, sec.me.id)
    commit = owner.state["items"][github]["key_commit"]
    envelope.grantee_data_key(sec.vault_id, github, 1, wrap, commit, sec.me)  # control
    ken = Identity.generate("Ken")
    moves = {
        "item": (sec.vault_id, bank, 1, sec.me),
        "version": (sec.vault_id, github, 2, sec.me),
        "vault": ("0" * 32, github, 1, sec.me),
        "person": (sec.vault_id, github, 1, ken),
    }
    opened = []
    for name, (vault_id, item_id, version, me) in moves.items():
        try:
            envelope.grantee_data_key(vault_id, item_id, version, wrap, commit, me)
            opened.append(name)
        except DecryptionFailed:
            pass
    assert opened == []


def _signed_grant(world, item_title: str, wrap_from: str) -> None:
    """The owner's key signs a grant to aiko on `item_title` whose wrap is not its own."""
    owner = world.client_session()
    sec_id = world.member_id
    item_id = owner.find(item_title)
    version = owner.state["items"][item_id]["version"]
    github = owner.find("GitHub")
    if wrap_from == "another item":
        wrap = grant_wrap(world.owner_log, github, sec_id)
    elif wrap_from == "another version":
        wrap = grant_wrap(world.owner_log, github, sec_id)  # v1's wrap, item is now v2
    else:  # another person: sealed to Ken's key for this very item and version
        ken = Identity.generate("Ken")
        wrap = envelope.wrap_for(
            owner.vault_id, item_id, version, ken.card, owner.data_key(item_id)
        )
    owner.append("grant", {"item": item_id, "version": version, "member": sec_id, "wrap": wrap})


@pytest.mark.parametrize("case", ["another item", "another version", "another person"])
def test_owner_signed_grant_carrying_a_moved_wrap_fails_closed(world, case):
    """Even signed by the owner (a bug, or a confused client), a moved wrap never opens: the
    secretary gets exit 3, nothing on stdout, and no receipt is written."""
    if case == "another version":
        ok(world.c("edit", "GitHub", "--username", "acme-root"))  # GitHub is now v2
        title = "GitHub"
    else:
        title = "Bank" if case == "another item" else "GitHub"
    _signed_grant(world, title, case)
    before = world.member_log.read_bytes() if world.member_log.exists() else b""
    r = world.s("get", title)
    assert r.code == 3 and r.out == "" and world.password not in r.err
    assert "does not open" in r.err
    after = world.member_log.read_bytes() if world.member_log.exists() else b""
    assert after == before
