"""Adversarial catalogue, class 3: revocation and rollback.

A revoked secretary (who can still write to the shared folder), a week-old backup put
back, a member who signs owner-only events, two owner machines that disagree, and the
'exposed' mark that must outlive restarts. Each test names the one outcome it expects.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import ok, run
from tests.logs import append_raw, grant_wrap, next_event, payload, puts, read_lines
from tests.outcomes import assert_exit3_at, assert_problem, fresh_load
from vault import crypto, envelope
from vault.encoding import b64d
from vault.errors import DecryptionFailed, IntegrityError


def exposed(home: Path, title: str = "GitHub") -> list[str]:
    rows = json.loads(ok(run(home, "list", "--json")).out)
    return next(r for r in rows if r["title"] == title)["exposed_to"]


def shared_with(home: Path, title: str = "GitHub") -> list[str]:
    rows = json.loads(ok(run(home, "list", "--json")).out)
    return next(r for r in rows if r["title"] == title)["shared_with"]


def problems(world, home: Path) -> list:
    return world.session(home).loaded.problems


def second_owner_machine(world, tmp_path: Path, folder: Path | None = None) -> Path:
    """The client's identity restored from a recovery kit on another machine, with the vault
    registered there (confirming the owner's own safety code)."""
    kit = tmp_path / "client.kit"
    code = ok(world.c("recovery-kit", str(kit))).out.strip()
    home = tmp_path / "client-laptop"
    ok(run(home, "init", "--restore", str(kit), input=code + "\n"))
    world.open_as(home, folder)
    return home


# --- 1. a revoked member restores the pre-revocation version and wrap ----------------------


@pytest.fixture
def revoked(world):
    """aiko retrieved GitHub, kept a copy of the owner log, then was revoked (v2, re-keyed)."""
    ok(world.s("get", "GitHub"))
    kept = world.owner_log.read_bytes()
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    assert world.s("get", "GitHub").code == 1  # her machine has seen the revocation
    return world, kept


def test_revoked_member_restoring_the_old_owner_log_is_rollback_on_her_machine(revoked):
    """She copies the pre-revocation owner log back into the folder: her own machine says
    'rollback' at the owner's head, keeps the revocation, and reveals nothing."""
    world, kept = revoked
    head = len(read_lines(world.owner_log)) - 1
    world.owner_log.write_bytes(kept)
    owner_id = world.owner_id
    assert_problem(problems(world, world.secretary), "rollback", owner_id, head)
    r = world.s("get", "GitHub")
    assert r.code != 0 and r.out == "" and world.password not in r.err
    assert "revoked" in r.err


def test_revoked_member_restoring_the_old_owner_log_is_rollback_for_the_owner(revoked):
    """The owner's machine reports the same rollback, refuses to write (exit 3) and still
    serves its own verified state: GitHub v2, not shared with aiko, exposed to her."""
    world, kept = revoked
    head = len(read_lines(world.owner_log)) - 1
    world.owner_log.write_bytes(kept)
    owner_id = world.owner_id
    assert_problem(problems(world, world.client), "rollback", owner_id, head)
    r = world.c("add", "New", "--password-stdin", input="x\n")
    assert r.code == 3 and "refusing to write" in r.err
    sess = world.client_session()
    github = sess.find("GitHub")
    assert sess.state["items"][github]["version"] == 2
    assert shared_with(world.client) == [] and exposed(world.client) == ["aiko"]


def test_revoked_member_cannot_decrypt_the_new_version_with_the_old_wrap(revoked):
    """Raw crypto, as she could run it herself: her v1 wrap does not open as v2, v2 has no
    wrap for her, and the v1 data key fails v2's commitment and ciphertext."""
    world, _kept = revoked
    sec = world.secretary_session()
    owner = world.client_session()
    github = owner.find("GitHub")
    v1, v2 = puts(world.owner_log, github)[-2:]
    assert (v1["version"], v2["version"]) == (1, 2)
    assert sec.me.id not in v2["wraps"]
    old_wrap = grant_wrap(world.owner_log, github, sec.me.id)
    k1 = envelope.grantee_data_key(sec.vault_id, github, 1, old_wrap, v1["key_commit"], sec.me)
    with pytest.raises(DecryptionFailed):
        envelope.grantee_data_key(sec.vault_id, github, 2, old_wrap, v2["key_commit"], sec.me)
    with pytest.raises(IntegrityError, match="key commitment"):
        crypto.check_key_commit(k1, b64d(v2["key_commit"]))
    with pytest.raises(DecryptionFailed):
        envelope.open_item(sec.vault_id, github, v2, k1)
    assert envelope.open_item(sec.vault_id, github, v1, k1)["password"] == world.password


def test_owner_repair_undoes_the_restored_old_log_for_everyone(revoked):
    world, kept = revoked
    world.owner_log.write_bytes(kept)
    r = ok(world.c("doctor", "--repair"))
    assert "restored log" in r.err
    for home in (world.client, world.secretary):
        assert not [p for p in problems(world, home) if p.fatal]
    assert world.s("get", "GitHub").code == 1
    assert "OK:" in ok(world.s("audit", "verify")).out


# --- 2. whole-folder restore --------------------------------------------------------------


@pytest.fixture
def restored(world, tmp_path):
    """A backup of the folder is taken, more work is done (a new item shared and read),
    then the backup is put back over the folder."""
    ok(world.s("get", "GitHub"))
    backup = tmp_path / "backup"
    shutil.copytree(world.folder, backup)
    heads = {"owner": len(read_lines(world.owner_log)) - 1}
    ok(world.c("add", "New", "--password-stdin", input="new-canary\n"))
    ok(world.c("share", "New", "--with", "aiko"))
    ok(world.s("get", "New"))
    ok(world.c("list"))  # the owner's machine sees aiko's newest receipt
    heads["owner_now"] = len(read_lines(world.owner_log)) - 1
    heads["member_now"] = len(read_lines(world.member_log)) - 1
    shutil.rmtree(world.folder)
    shutil.copytree(backup, world.folder)
    return world, heads


def test_whole_folder_restore_is_rollback_on_every_machine_that_saw_newer_state(restored):
    world, heads = restored
    owner_id, sec_id = world.owner_id, world.member_id
    for home in (world.client, world.secretary):
        found = {(p.kind, p.log, p.seq) for p in problems(world, home) if p.fatal}
        assert ("rollback", owner_id, heads["owner_now"]) in found, (home, found)
        assert ("rollback", sec_id, heads["member_now"]) in found, (home, found)


def test_whole_folder_restore_refuses_writes_until_repaired(restored):
    """Exit 3 for the owner's writes and for the secretary's receipts (so no secret is
    released); reads of the owner's verified state still work."""
    world, _ = restored
    r = world.c("add", "Other", "--password-stdin", input="x\n")
    assert r.code == 3 and "refusing to write" in r.err
    r = world.s("get", "New")
    assert r.code == 3 and r.out == "" and "new-canary" not in r.err
    assert "New" in ok(world.c("list")).out  # served from the mirror meanwhile


def test_whole_folder_restore_then_doctor_repair_lets_writes_resume(restored):
    """`doctor --repair` puts back what each machine verified; then everything works."""
    world, _ = restored
    ok(world.c("doctor", "--repair"))
    ok(world.s("doctor", "--repair"))
    ok(world.c("add", "Other", "--password-stdin", input="x\n"))
    assert ok(world.s("get", "New")).out == "new-canary\n"
    assert "OK:" in ok(world.c("audit", "verify")).out
    assert "OK:" in ok(world.s("audit", "verify")).out


def test_whole_folder_restore_accept_rollback_is_recorded_in_the_signed_audit(restored):
    """The owner chooses to go on: the decision is a signed 'rollback.accept' event in the
    owner's log, shown by `audit` and verified by `audit verify`."""
    world, _ = restored
    ok(world.c("doctor", "--accept-rollback"))
    rows = json.loads(ok(world.c("audit", "--json")).out)
    accepted = [r for r in rows if r["type"] == "rollback.accept"]
    assert len(accepted) == 1 and accepted[0]["log"] == world.owner_id
    assert any(payload(line)["type"] == "rollback.accept" for line in read_lines(world.owner_log))
    ok(world.c("add", "Other", "--password-stdin", input="x\n"))
    assert "OK:" in ok(world.c("audit", "verify")).out


def test_member_cannot_accept_a_rollback(restored):
    world, _ = restored
    before = world.owner_log.read_bytes()
    r = world.s("doctor", "--accept-rollback")
    assert r.code == 1 and "owner" in r.err
    assert world.owner_log.read_bytes() == before


# --- 3. a member writes owner-only events -----------------------------------------------


def forged_rotation(item_id: str, version: int) -> dict:
    """The body of an item.put 'rotated: true' with placeholder crypto (not the owner's)."""
    return {
        "item": item_id,
        "version": version,
        "aead": "CHACHA20_POLY1305",
        "ct": "AAAA",
        "key_commit": "AAAA",
        "owner_wrap": "AAAA",
        "wraps": {},
        "rotated": True,
    }


def _member_writes(world, type_: str) -> tuple[str, int]:
    """The secretary's own (modified) client signs an owner-only event into her log."""
    sec = world.secretary_session()
    owner = world.client_session()
    github, bank = owner.find("GitHub"), owner.find("Bank")
    bodies = {
        "grant": {"item": bank, "version": 1, "member": sec.me.id, "wrap": "AAAA"},
        "revoke": {"item": github, "member": sec.me.id, "reason": "self"},
        "item.put": forged_rotation(github, 2),
        "member.add": {"member": "f" * 32, "name": "mallory", "card": {}},
        "rollback.accept": {"detail": [], "restored": []},
    }
    seq = len(read_lines(world.member_log)) if world.member_log.exists() else 0
    sec.append(type_, bodies[type_])
    return sec.me.id, seq


@pytest.mark.parametrize("type_", ["grant", "revoke", "item.put", "member.add", "rollback.accept"])
def test_member_written_owner_event_is_ignored_and_reported_with_its_place(world, type_):
    """The state ignores it on every machine; `audit verify` exits 3 naming her log and seq."""
    owner = world.client_session()
    github, bank = owner.find("GitHub"), owner.find("Bank")
    sec_id, seq = _member_writes(world, type_)
    for home in (world.client, world.secretary):
        st = world.session(home).state
        assert st["items"][github]["version"] == 1
        assert sec_id in st["items"][github]["grants"]
        assert st["items"][bank]["grants"] == {}
        assert set(st["members"]) == {sec_id}
    assert world.s("get", "Bank").code == 1
    assert_exit3_at(world.c("audit", "verify"), sec_id, seq)
    assert "ignored" in ok(world.c("audit")).out


def test_member_written_rotation_does_not_clear_the_exposed_mark(world):
    """Only an owner-signed rotation clears 'exposed'; a member's item.put rotated:true is
    set aside."""
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    sec = world.secretary_session()
    github = world.client_session().find("GitHub")
    sec.append("item.put", forged_rotation(github, 3))
    assert exposed(world.client) == ["aiko"]


# --- 4. concurrent grant and revoke (two owner machines) ----------------------------------
#
# The owner is the only writer of grants and revokes, so "concurrent" means two of the
# owner's machines writing the same sequence number without having seen each other: on
# Dropbox, the later upload becomes a "(conflicted copy)" of the owner's log. Machine A
# revokes aiko from GitHub (seq 5 revoke, 6 re-key); machine B, stale, re-shares GitHub
# with aiko (seq 5 grant). takusu cannot merge two branches of one signed chain; what it
# guarantees is that the fork is surfaced everywhere and that nothing is released while
# it stands.


@pytest.fixture
def forked(world, tmp_path):
    laptop_folder = tmp_path / "laptop-dropbox" / "acme"
    shutil.copytree(world.folder, laptop_folder)
    laptop = second_owner_machine(world, tmp_path, laptop_folder)
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    ok(run(laptop, "share", "GitHub", "--with", "aiko", "--expires", "30d"))
    owner_id = world.owner_id
    revoke_branch = world.owner_log.read_bytes()
    grant_branch = (laptop_folder / "logs" / f"{owner_id}.jsonl").read_bytes()
    return world, laptop, laptop_folder, owner_id, revoke_branch, grant_branch


def conflict_copy(folder: Path, log: str) -> Path:
    return folder / "logs" / f"{log} (conflicted copy 2025-06-01).jsonl"


def test_concurrent_grant_and_revoke_is_a_fork_reported_on_every_machine(forked):
    world, laptop, laptop_folder, owner_id, _revoke, grant = forked
    conflict_copy(world.folder, owner_id).write_bytes(grant)
    conflict_copy(laptop_folder, owner_id).write_bytes(world.owner_log.read_bytes())
    for home in (world.client, world.secretary, laptop):
        assert_problem(problems(world, home), "fork", owner_id, 5)
    for home in (world.client, laptop):
        r = run(home, "add", "Other", "--password-stdin", input="x\n")
        assert r.code == 3 and "forked" in r.err


def test_concurrent_grant_and_revoke_releases_nothing_while_forked_revoke_first(forked):
    """The folder's main file holds the revoke, the copy the grant: aiko is refused."""
    world, _laptop, _lf, owner_id, _revoke, grant = forked
    conflict_copy(world.folder, owner_id).write_bytes(grant)
    r = world.s("get", "GitHub")
    assert r.code != 0 and r.out == "" and world.password not in r.err


def test_concurrent_grant_and_revoke_releases_nothing_while_forked_grant_first(forked):
    """Worst order: the sync service keeps the grant as the main file and the revoke as the
    copy, and aiko's machine reads the grant first. Her state says 'shared', but the
    receipt cannot be written on a forked owner log, so nothing is released (exit 3)."""
    world, _laptop, _lf, owner_id, revoke, grant = forked
    world.owner_log.write_bytes(grant)
    conflict_copy(world.folder, owner_id).write_bytes(revoke)
    sec = world.secretary_session()
    assert_problem(sec.loaded.problems, "fork", owner_id, 5)
    r = world.s("get", "GitHub")
    assert r.code == 3 and r.out == "" and world.password not in r.err


def test_re_keyed_version_from_the_revoke_branch_never_opens_for_the_member(forked):
    """Whatever branch a machine follows, the revoke branch's v2 has no wrap for aiko."""
    world, *_rest = forked
    github = world.client_session().find("GitHub")
    v2 = puts(world.owner_log, github)[-1]
    assert v2["version"] == 2 and world.member_id not in v2["wraps"]


def test_stale_owner_machine_repair_does_not_undo_a_concurrent_revoke(forked, tmp_path):
    """Revocation must win: after the user deletes the conflict copy, the stale laptop's
    `doctor --repair` must not republish the grant branch over the revoke."""
    world, laptop, laptop_folder, owner_id, revoke, _grant = forked
    # Sync converges on the revoke branch in both folders; the laptop's mirror holds the grant.
    (laptop_folder / "logs" / f"{owner_id}.jsonl").write_bytes(revoke)
    run(laptop, "doctor", "--repair")
    fresh = fresh_load(
        laptop_folder, tmp_path / "fresh", world.vault_id, world.identity(world.client).card
    )
    github = world.client_session().find("GitHub")
    assert world.member_id not in fresh.state["items"][github]["grants"]


def test_replayed_grant_line_after_a_revoke_is_tampered(world):
    """aiko appends the old (validly signed) grant line after the revocation: refused at
    its seq on every machine; she stays revoked."""
    old_grant = read_lines(world.owner_log)[4]
    assert payload(old_grant)["type"] == "grant"
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    append_raw(world.owner_log, old_grant)
    seq = len(read_lines(world.owner_log)) - 1
    owner_id = world.owner_id
    for home in (world.client, world.secretary):
        assert_problem(problems(world, home), "tampered", owner_id, seq)
    r = world.s("get", "GitHub")
    assert r.code != 0 and r.out == ""


def test_owner_signed_grant_for_the_pre_revocation_version_is_refused(world):
    """Even re-chained and signed by the owner's key, a grant for v1 after the re-key to v2
    is refused by the state ('not for the current version')."""
    old = payload(read_lines(world.owner_log)[4])
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    body = {k: old[k] for k in ("item", "version", "member", "wrap")}
    vault_id = world.vault_id
    line = next_event(world.identity(world.client), world.owner_log, vault_id, "grant", body)
    append_raw(world.owner_log, line)
    problem = assert_problem(
        problems(world, world.secretary), "tampered", world.owner_id, payload(line)["seq"]
    )
    assert "current version" in problem.message
    assert world.s("get", "GitHub").code == 1


# --- 5. the exposed mark -------------------------------------------------------------------


def test_exposed_mark_survives_restarts_and_a_lost_state_cache(world):
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    assert exposed(world.client) == ["aiko"]
    assert exposed(world.client) == ["aiko"]  # a new process: read back from the cache
    vault_id = world.vault_id
    (world.client / "vaults" / vault_id / "state.json").unlink()
    assert exposed(world.client) == ["aiko"]  # re-folded from the verified log


def test_lost_state_cache_is_rebuilt_without_a_false_alarm(world):
    """The state cache is disposable (its own error says 'remove it to rebuild'): after
    removing it, `audit verify` must still pass."""
    vault_id = world.vault_id
    (world.client / "vaults" / vault_id / "state.json").unlink()
    ok(world.c("list"))
    assert "OK:" in ok(world.c("audit", "verify")).out


def test_exposed_mark_reaches_a_second_owner_machine(world, tmp_path):
    """The owner's laptop, restored from the recovery kit, sees the mark from the log."""
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    laptop = second_owner_machine(world, tmp_path)
    assert exposed(laptop) == ["aiko"]
    assert "EXPOSED" in ok(run(laptop, "show", "GitHub")).out


def test_exposed_mark_is_not_cleared_by_a_non_secret_edit(world):
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    ok(world.c("edit", "GitHub", "--username", "acme-root"))
    assert exposed(world.client) == ["aiko"]


def test_exposed_mark_is_cleared_by_an_owner_signed_rotation_on_every_machine(world, tmp_path):
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    laptop = second_owner_machine(world, tmp_path)
    ok(run(laptop, "rotate", "GitHub", "--generate"))  # the password; the seed she held stays
    assert exposed(laptop) == ["aiko"] == exposed(world.client)
    ok(run(laptop, "rotate", "GitHub", "--totp-stdin", input="JBSWY3DPEHPK3PXQ\n"))
    assert exposed(laptop) == [] and exposed(world.client) == []
    rotated = [p for p in map(payload, read_lines(world.owner_log)) if p.get("rotated")]
    assert len(rotated) == 2 and {r["actor"] for r in rotated} == {world.owner_id}
