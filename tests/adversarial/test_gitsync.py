"""`takusu sync` against a real bare git remote with two work trees: the client's vault
folder and the secretary's clone of it, each being that person's vault folder.

git runs with HOME pointed at an empty folder, so no global identity or config helps; the
clones get a local identity only where a test says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PASSPHRASE, ok, run
from tests.outcomes import place
from tests.world import GITHUB, World, build, git


@pytest.fixture
def isolated_git_home(tmp_path, monkeypatch):
    home = tmp_path / "git-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


def local_identity(clone: Path, name: str) -> None:
    git(clone, "config", "user.name", name)
    git(clone, "config", "user.email", f"{name.lower()}@example.invalid")


def git_world(root: Path, *, identities: bool = True) -> World:
    """The client creates the vault, puts it in git and publishes it; the secretary clones it
    and opens the vault in her clone. GitHub is shared with aiko."""
    w = build(root, items=(GITHUB,), git_remote=True, clone=True)
    if identities:
        local_identity(w.folder, "Client")
        local_identity(w.secretary_folder, "Aiko")
    return w


@pytest.fixture
def gw(tmp_path, isolated_git_home):
    return git_world(tmp_path)


def remote_lines(w: World, log: str) -> int:
    return w.remote_log(log).count(b"\n")


def no_merges_and_one_writer_per_commit(w: World) -> None:
    assert git(w.folder, "log", "--merges", "--oneline").stdout == ""
    files = git(w.folder, "log", "--format=%x00", "--name-only").stdout
    for commit in files.split("\x00")[1:]:
        touched = {line for line in commit.split() if line}
        writers = {name[len("logs/") :][:32] for name in touched if name.startswith("logs/")}
        assert len(writers) <= 1, touched  # each commit carries one person's log


def test_share_sync_get_sync_shows_the_receipt_in_the_client_audit(gw):
    assert ok(gw.s("get", "GitHub", "--reason", "invoices")).out == "hunter2-canary\n"
    assert ok(gw.s("sync")).out == "sync: committed, pulled, pushed\n"
    assert ok(gw.c("sync")).out == "sync: pulled, pushed\n"
    rows = json.loads(ok(gw.c("audit", "--json")).out)
    (receipt,) = [r for r in rows if r["type"] == "retrieve"]
    assert (receipt["actor"], receipt["title"], receipt["reason"]) == ("aiko", "GitHub", "invoices")
    for home in (gw.client, gw.secretary):
        assert "OK:" in ok(run(home, "audit", "verify")).out
    no_merges_and_one_writer_per_commit(gw)


def test_both_clones_write_then_sync_without_merge_conflicts(gw):
    """The client adds and revokes while the secretary retrieves; the secretary pushes first,
    the client's sync rebases over it: no conflict, both end with the same verified heads."""
    ok(gw.c("add", "Bank", "--password-stdin", input="bank-canary\n"))
    ok(gw.s("get", "GitHub"))
    ok(gw.s("sync"))
    assert ok(gw.c("sync")).out == "sync: committed, pulled, pushed\n"
    ok(gw.c("share", "Bank", "--with", "aiko"))
    ok(gw.s("get", "GitHub", "username"))
    ok(gw.c("sync"))
    ok(gw.s("sync"))
    ok(gw.c("sync"))
    assert ok(gw.s("get", "Bank")).out == "bank-canary\n"
    ok(gw.s("sync"))
    ok(gw.c("sync"))
    heads = []
    for home in (gw.client, gw.secretary):
        assert "OK: everything verified (logs: 2," in ok(run(home, "audit", "verify")).out
        heads.append(ok(run(home, "audit", "--json")).out)
    assert heads[0] == heads[1]
    assert len([r for r in json.loads(heads[0]) if r["type"] == "retrieve"]) == 3
    no_merges_and_one_writer_per_commit(gw)


def test_sync_rebases_my_commit_without_a_configured_git_identity(tmp_path, isolated_git_home):
    """Both clones wrote; the client's sync replays its commit over the secretary's on a
    machine with no git identity at all (sync brings its own, for commit and rebase)."""
    w = git_world(tmp_path, identities=False)
    ok(w.c("add", "Bank", "--password-stdin", input="bank-canary\n"))
    ok(w.s("get", "GitHub"))
    ok(w.s("sync"))
    assert ok(w.c("sync")).out == "sync: committed, pulled, pushed\n"


def force_push_rollback(w: World, commits_back: int) -> str:
    """Someone with push access rewinds the remote: `git push --force` of an older commit."""
    attacker = w.root / "attacker-clone"
    git(w.root, "clone", "--quiet", str(w.remote), str(attacker))
    old = git(attacker, "rev-parse", f"HEAD~{commits_back}").stdout.strip()
    git(attacker, "push", "--quiet", "--force", "origin", f"{old}:main")
    return old


def synced_history(gw: World) -> None:
    ok(gw.s("get", "GitHub"))
    ok(gw.s("sync"))
    ok(gw.c("sync"))
    ok(gw.c("add", "Bank", "--password-stdin", input="bank-canary\n"))
    ok(gw.c("sync"))
    ok(gw.s("get", "GitHub", "username"))
    ok(gw.s("sync"))
    ok(gw.c("sync"))


def test_force_pushed_rollback_of_the_remote_is_detected_by_the_pins(gw):
    """After the remote is rewound past events both machines accepted, the next sync pulls
    the old folder and does not publish over it, and every command reports the shrunk logs
    with their place (exit 3) and refuses to write."""
    synced_history(gw)
    owner, member = gw.owner_id, gw.member_id
    owner_events, member_events = remote_lines(gw, owner), remote_lines(gw, member)
    old = force_push_rollback(gw, 3)
    assert remote_lines(gw, owner) < owner_events and remote_lines(gw, member) < member_events
    for home in (gw.secretary, gw.client):
        synced = run(home, "sync")
        assert synced.code in (0, 3), synced
        assert "not pushed" in synced.err or synced.code == 3
        assert git(gw.root, "--git-dir", str(gw.remote), "rev-parse", "main").stdout.strip() == old
        checked = run(home, "audit", "verify")
        assert checked.code == 3, checked
        assert "shrank" in checked.err or "gone" in checked.err or "shorter" in checked.err
        assert place(member) in checked.err or place(owner) in checked.err
        if home == gw.client:
            refused = run(home, "add", "Mail", "--password-stdin", input="mail-canary\n")
        else:
            refused = run(home, "get", "GitHub")
        assert refused.code == 3 and refused.out == "" and "refusing" in refused.err


def test_doctor_repair_then_sync_puts_the_verified_history_back_on_the_remote(gw):
    synced_history(gw)
    owner, member = gw.owner_id, gw.member_id
    owner_events, member_events = remote_lines(gw, owner), remote_lines(gw, member)
    force_push_rollback(gw, 3)
    for home in (gw.secretary, gw.client):
        run(home, "sync")
    for home in (gw.client, gw.secretary):
        ok(run(home, "doctor", "--repair"))
        ok(run(home, "sync"))
    ok(gw.c("sync"))
    assert remote_lines(gw, owner) == owner_events and remote_lines(gw, member) == member_events
    for home in (gw.client, gw.secretary):
        assert "OK:" in ok(run(home, "audit", "verify")).out


def test_sync_that_pulls_a_rolled_back_folder_exits_3_naming_the_log(gw):
    synced_history(gw)
    owner, member = gw.owner_id, gw.member_id
    force_push_rollback(gw, 3)
    synced = gw.s("sync")
    assert synced.code == 3 and (place(owner) in synced.err or place(member) in synced.err)


def test_vault_create_in_a_fresh_clone_of_an_empty_remote(tmp_path, isolated_git_home):
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(clone))
    ok(run(tmp_path / "client", "init", "--name", "Acme client"))
    ok(run(tmp_path / "client", "vault", "create", str(clone), "--name", "acme"))
    ok(run(tmp_path / "client", "sync"))


def test_sync_outside_a_git_work_tree_is_a_one_line_error(bare):
    w = bare
    result = w.c("sync")
    assert result.code == 1 and result.out == ""
    errors = [line for line in result.err.splitlines() if line.startswith("takusu: error:")]
    assert errors == [f"takusu: error: {w.folder} is not a git work tree"], result


def test_git_gets_a_minimal_environment(tmp_path, isolated_git_home):
    """The real `takusu sync` process, started with canaries in its environment: the git it
    runs (seen from a post-commit hook) has none of them, nor TAKUSU_PASSPHRASE."""
    w = build(tmp_path, key_mode="passphrase", git_remote=True)  # for a real subprocess
    dump = tmp_path / "hook-env"
    hook = w.folder / ".git" / "hooks" / "post-commit"
    hook.write_text(f"#!/bin/sh\nenv > '{dump}'\n")
    hook.chmod(0o700)
    ok(run(w.client, "add", "Mail", "--password-stdin", input="mail-canary\n"))
    env = w.env(w.client, TAKUSU_CANARY="canary-7f3a", AWS_SECRET_ACCESS_KEY="canary-aws-91c2")
    takusu = Path(sys.executable).with_name("takusu")
    done = subprocess.run(
        [str(takusu), "sync"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "pushed" in done.stdout, done
    seen = dump.read_text()
    names = {line.split("=", 1)[0] for line in seen.splitlines() if "=" in line}
    for secret in ("canary-7f3a", "canary-aws-91c2", PASSPHRASE):
        assert secret not in seen
    assert not {n for n in names if n.startswith("TAKUSU_")}
    allowed = {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "GIT_TERMINAL_PROMPT",
        "SSH_AUTH_SOCK",
        "XDG_CONFIG_HOME",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    }
    assert {n for n in names if not n.startswith("GIT_")} <= allowed, names
