"""Concurrency on one machine and one folder: writers serialise, readers never raise a false
alarm, a stale lock left by a killed process does not block, and a retrieval that races an
owner's change records a receipt that matches what was released.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adversarial.crash_worker import fast_dir, inspect, loop_world, lost, parse
from tests.helpers import ok
from tests.logs import log_events
from tests.world import ROOT
from vault.errors import AccessRevoked, NotShared

WORKER = Path(__file__).with_name("crash_worker.py")


@pytest.fixture
def fast_tmp(tmp_path):
    path = fast_dir(tmp_path / "fast")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start(world, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=world.env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def writers(world, home: Path, *specs: tuple[int, str]) -> list[subprocess.Popen]:
    """Adder processes, unlocked, then released at the same moment."""
    procs = [start(world, home, "adder", str(home), str(count), prefix) for count, prefix in specs]
    for proc in procs:
        assert proc.stdout.readline().strip() == "READY"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def finish(proc: subprocess.Popen, timeout: float = 60) -> list[str]:
    out, err = proc.communicate(timeout=timeout)  # also closes the pipes
    assert proc.returncode == 0, err
    return out.splitlines()


def test_two_processes_appending_to_one_log_serialise(fast_tmp):
    """Two takusu processes of the same owner add 20 items each at the same time: 40 new
    events with 40 distinct sequence numbers, none lost, and the chain verifies."""
    world = loop_world(fast_tmp)
    before = len(log_events(world.owner_log.read_bytes(), world.owner_id))
    left, right = (
        parse(finish(p))[0] for p in writers(world, world.client, (20, "left"), (20, "right"))
    )
    acks = left + right
    assert len(acks) == 40
    assert sorted(a.seq for a in acks) == list(range(before, before + 40))
    # they really ran at the same time: their events interleave in the log
    assert max(a.seq for a in left) > min(a.seq for a in right)
    assert max(a.seq for a in right) > min(a.seq for a in left)
    assert lost(world, acks) == []
    wrong, torn = inspect(world, world.client, full=True)
    assert wrong == [] and torn == {}
    loaded = world.store(world.client).load()
    assert len(loaded.state["items"]) == 6 + 40


def test_readers_during_a_writer_see_old_or_new_state_never_an_alarm(fast_tmp):
    """While the owner's process appends 40 events, the secretary's machine (its own lock)
    and the owner's own machine reload in a loop: every load is free of fatal problems and
    heads only move forward."""
    world = loop_world(fast_tmp)
    (writer,) = writers(world, world.client, (40, "w"))
    loads, seen = 0, {world.client: -1, world.secretary: -1}
    problems: list[str] = []
    try:
        while writer.poll() is None:
            for home in (world.secretary, world.client):
                loaded = world.store(home).load()
                loads += 1
                problems += [f"{p.kind}: {p}" for p in loaded.fatal]
                seq = loaded.state["heads"][world.owner_id]["seq"]
                assert seq >= seen[home], "a reader went back to an older state"
                seen[home] = seq
    finally:
        acks = parse(finish(writer))[0]
    assert problems == []
    assert len(acks) == 40 and loads >= 10
    for home in (world.secretary, world.client):
        wrong, _ = inspect(world, home, full=True)
        assert wrong == []


def test_cli_list_during_a_writer_never_reports_a_problem(fast_tmp):
    """`takusu list` (a real process) on the secretary's machine while the owner appends."""
    world = loop_world(fast_tmp)
    (writer,) = writers(world, world.client, (30, "w"))
    takusu = Path(sys.executable).with_name("takusu")
    runs = []
    try:
        while writer.poll() is None or not runs:
            runs.append(
                subprocess.run(
                    [str(takusu), "list"],
                    env=world.env(world.secretary),
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            )
    finally:
        finish(writer)
    for done in runs:
        assert done.returncode == 0, done
        assert "problem" not in done.stderr and "error" not in done.stderr, done
        assert "Stable-0" in done.stdout


def lock_is_held(lock: Path) -> bool:
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_stale_lock_left_by_a_killed_process_does_not_block_the_next_command(fast_tmp):
    world = loop_world(fast_tmp)
    lock = world.client / "locks" / f"{world.vault_id}.lock"
    holder = start(world, world.client, "hold-lock", str(world.client))
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        assert lock_is_held(lock)
        takusu = [str(Path(sys.executable).with_name("takusu")), "list"]
        with pytest.raises(subprocess.TimeoutExpired):  # a live holder does block
            subprocess.run(takusu, env=world.env(world.client), capture_output=True, timeout=2)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for pipe in (holder.stdin, holder.stdout, holder.stderr):
            pipe.close()
    assert lock.exists() and not lock_is_held(lock)
    started = time.monotonic()
    done = subprocess.run(
        takusu, env=world.env(world.client), capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0 and "Stable-0" in done.stdout, done
    assert time.monotonic() - started < 5


def test_get_racing_a_revoke_releases_nothing_once_the_revoke_is_seen(world):
    sess = world.secretary_session()  # opened before the revoke arrives
    item = sess.find("GitHub")
    ok(world.c("revoke", "GitHub", "--from", "aiko"))
    released = None
    with pytest.raises((AccessRevoked, NotShared)):
        released = sess.reveal(item, ["password"], None)
    assert released is None
    assert "OK:" in ok(world.c("audit", "verify")).out


def test_get_racing_a_rotation_writes_a_receipt_audit_verify_accepts(world):
    sess = world.secretary_session()
    item = sess.find("GitHub")
    ok(world.c("rotate", "GitHub", "--password-stdin", input="rotated-canary\n"))
    sess.reveal(item, ["password"], None)
    assert "OK:" in ok(world.c("audit", "verify")).out
