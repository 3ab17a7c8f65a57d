"""Trust on first contact: safety codes, pins, key changes, downgrades, forged events."""

from __future__ import annotations

from tests.helpers import ok, run
from tests.logs import edit_vault_json, grant_wrap
from vault import envelope, labels
from vault.identity import Identity


def _card_file(tmp_path, identity: Identity, name="x.card"):
    path = tmp_path / name
    path.write_text(identity.card.armor())
    return path


def test_wrong_safety_code_refused(bare):
    card = bare.root / "aiko.card"
    card.write_text(ok(bare.s("card")).out)
    r = bare.member_add(card, "aiko", "00000 00000")
    assert r.code == 1 and "does not match" in r.err
    assert "aiko" not in ok(bare.c("member", "list")).out


def test_unverified_card_refused_without_terminal(bare):
    card = bare.root / "aiko.card"
    card.write_text(ok(bare.s("card")).out)
    r = bare.member_add(card, "aiko", None)
    assert r.code == 1 and "not confirmed" in r.err
    assert "aiko" not in ok(bare.c("member", "list")).out


def test_card_from_stdin(bare):
    r = ok(bare.member_add("-", "aiko", bare.code(bare.secretary), input=ok(bare.s("card")).out))
    assert "Added aiko" in r.out


def test_key_change_for_known_member_refused(world, tmp_path):
    impostor = Identity.generate("Aiko")
    r = world.member_add(_card_file(tmp_path, impostor), "aiko", impostor.card.safety_code)
    assert r.code == 3 and "different keys" in r.err


def test_display_name_clash_refused(world, tmp_path):
    impostor = Identity.generate("Aiko")  # same display name as the real member
    r = world.member_add(_card_file(tmp_path, impostor), "aiko-2", impostor.card.safety_code)
    assert r.code == 3 and "display name" in r.err


def test_suite_downgrade_refused(world, tmp_path):
    classic = Identity.generate("Aiko", suite=labels.SUITE_CLASSIC)
    r = world.member_add(_card_file(tmp_path, classic), "aiko-new", classic.card.safety_code)
    assert r.code == 3 and "downgrade" in r.err


def test_classic_card_accepted_for_new_person(bare, tmp_path):
    classic = Identity.generate("Ken", suite=labels.SUITE_CLASSIC)
    ok(bare.member_add(_card_file(tmp_path, classic), "ken", classic.card.safety_code))


def test_vault_open_wrong_code_refused(bare):
    r = bare.s("vault", "open", str(bare.folder), "--safety-code", "12345")
    assert r.code == 1 and "does not match" in r.err
    assert ok(bare.s("vault", "list", "--json")).out.strip() == "[]"


def test_vault_owner_change_refused(world, tmp_path):
    edit_vault_json(world.folder, owner_card=Identity.generate("Mallory").card.envelope)
    r = world.s("list")
    assert r.code == 3 and "owner has changed" in r.err


def test_member_written_grant_is_ignored_and_reported(world):
    """A member signs a grant in their own log: state ignores it, audit verify flags it."""
    owner = world.client_session()
    bank = owner.find("Bank")
    sec = world.secretary_session()
    member_id = sec.me.id
    sec.append("grant", {"item": bank, "version": 1, "member": member_id, "wrap": "AAAA"})
    assert world.s("get", "Bank").code == 1
    r = world.c("audit", "verify")
    assert r.code == 3 and "grant" in r.err and member_id[:12] in r.err and "seq" in r.err
    text = ok(world.c("audit")).out
    assert "ignored" in text


def test_wrap_moved_to_another_item_fails(world):
    """The owner (or a bug) puts GitHub's wrap on Bank: the secretary gets a typed error."""
    owner = world.client_session()
    github, bank = owner.find("GitHub"), owner.find("Bank")
    member_id = next(iter(owner.state["members"]))
    moved = grant_wrap(world.owner_log, github, member_id)
    owner.append(
        "grant",
        {
            "item": bank,
            "version": owner.state["items"][bank]["version"],
            "member": member_id,
            "wrap": moved,
        },
    )
    sec = world.secretary_session()
    assert bank in sec.readable()
    r = world.s("get", bank)
    assert r.code == 3 and "does not open" in r.err and r.out == ""


def test_wrap_for_another_member_fails(world, tmp_path):
    ken = Identity.generate("Ken")
    owner = world.client_session()
    github = owner.find("GitHub")
    member_id = next(iter(owner.state["members"]))
    version = owner.state["items"][github]["version"]
    for_ken = envelope.wrap_for(owner.vault_id, github, version, ken.card, owner.data_key(github))
    owner.append(
        "grant", {"item": github, "version": version, "member": member_id, "wrap": for_ken}
    )
    r = world.s("get", "GitHub")
    assert r.code == 3 and r.out == ""


def test_secretary_run_before_being_member(bare):
    bare.open_as_secretary()
    assert ok(bare.s("list")).out == ""
    assert run(bare.secretary, "get", "GitHub").code == 1
