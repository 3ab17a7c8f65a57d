"""Crash faults: kill -9 at random points during add, get (the secretary's receipt), share,
revoke, rotate and sync, and a kill (or a torn write) at every disk call of each but sync.

An event is *acknowledged* when the library call returned: the worker prints an ACK line
(flushed) only then. After every kill the parent reloads both machines and checks:
no acknowledged event is lost, at most one torn tail per log, and the chains verify.
The workers are zygotes (crash_worker.py) that import takusu and unlock once, then fork
one child per kill point, so a kill point costs a fork, not a Python start-up.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.adversarial.crash_worker import (
    Ack,
    Zygote,
    fast_dir,
    fresh_acks,
    inspect,
    interrupted,
    loop_world,
    lost,
    parse,
)
from tests.logs import log_hashes, read_log
from tests.world import World

NORMAL_POINTS, SLOW_POINTS = 200, 1000
FULL_CHECK_EVERY = 25  # rounds between full re-verifications (audit verify) of both machines


@pytest.fixture
def zygotes():
    started: list[Zygote] = []

    def start(world: World, home: Path, role: str) -> Zygote:
        started.append(Zygote(world, home, role))
        return started[-1]

    yield start
    for z in started:
        z.close()


# --- checking a machine after a crash -------------------------------------------------------


def forget_mirror(world: World, home: Path) -> None:
    """Recover a machine whose local mirror broke: re-verify everything from the folder."""
    shutil.rmtree(home / "vaults" / world.vault_id)


# --- kill -9 at random points ----------------------------------------------------------------


@dataclass
class LoopResult:
    points: int = 0
    rounds: int = 0
    acks: int = 0
    syncs: int = 0
    ops: dict[str, int] = field(default_factory=dict)
    killed_during: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    torn_over_one: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"kill -9 loop: {self.points} points in {self.rounds} rounds, {self.seconds:.1f}s; "
            f"killed during {dict(sorted(self.killed_during.items()))}; acknowledged "
            f"{dict(sorted(self.ops.items()))}; lost {len(self.lost)}; broken mirrors "
            f"{len(self.failures)}"
        )


def delay(rng: random.Random) -> float:
    """Mostly inside the first operations; sometimes long enough for a sync to finish."""
    return rng.uniform(0.0, 0.04) if rng.random() < 0.85 else rng.uniform(0.04, 0.4)


def kill_loop(root: Path, points: int, seed: int = 4, worlds: int = 2) -> LoopResult:
    """In each of `worlds` independent worlds, a client (add/share/revoke/rotate/sync to a git
    remote) and a secretary (get) run side by side on one folder; each round every worker is
    killed with SIGKILL after its own random delay, then every machine is reloaded and checked.
    The worlds run at the same time so that their random delays overlap."""
    rng = random.Random(seed)
    result = LoopResult()
    machines: list[tuple[World, Path, Zygote]] = []
    all_acks: dict[Path, list[Ack]] = {}
    syncs: list[tuple[World, Ack]] = []
    started = time.monotonic()
    try:
        for n in range(worlds):
            world = loop_world(root / f"world-{n}", git_remote=True)
            for home, role in ((world.client, "client"), (world.secretary, "secretary")):
                machines.append((world, home, Zygote(world, home, role)))
                all_acks[home] = []
        while result.points < points:
            result.rounds += 1
            new_acks: dict[Path, list[Ack]] = {}
            for _, _, z in machines:
                z.send(f"loop {rng.randrange(1 << 30)} {delay(rng):.4f}")
            for world, home, z in machines:
                lines = z.collect()
                acks, synced, errors = parse(lines)
                result.points += 1
                where = interrupted(lines)
                result.killed_during[where] = result.killed_during.get(where, 0) + 1
                new_acks[home] = acks
                result.lost += fresh_acks(acks)
                syncs += [(world, ack) for ack in synced]
                for ack in acks + synced:
                    result.ops[ack.op] = result.ops.get(ack.op, 0) + 1
                result.failures += [f"round {result.rounds}: {e}" for e in errors]
            full = result.rounds % FULL_CHECK_EVERY == 0 or result.points >= points
            for world, home, _ in machines:
                wrong, torn = inspect(world, home, full)
                result.torn_over_one += [
                    f"round {result.rounds}: {n} torn tails in {log[:12]}"
                    for log, n in torn.items()
                    if n > 1
                ]
                missing = lost(world, new_acks[home])
                result.lost += [f"round {result.rounds}: {a}" for a in missing]
                all_acks[home] += [a for a in new_acks[home] if a not in missing]
                if wrong:
                    result.failures.append(f"round {result.rounds} {home.name}: {wrong[0]}")
                    forget_mirror(world, home)
                    again, _ = inspect(world, home, True)
                    assert not again, f"the folder itself is damaged: {again}"
        for world, home, _ in machines:  # still there at the end
            result.lost += [f"at the end: {a}" for a in lost(world, all_acks[home])]
        for world, ack in syncs:
            pushed = log_hashes(world.remote_log(ack.log), ack.log)
            if not (len(pushed) > ack.seq and pushed[ack.seq] == ack.hash):
                result.lost.append(f"pushed event missing from the remote: {ack}")
    finally:
        for _, _, z in machines:
            z.close()
    result.acks = sum(len(a) for a in all_acks.values())
    result.syncs = len(syncs)
    result.seconds = time.monotonic() - started
    print("\n" + result.summary())
    for failure in result.failures[:5]:
        print("  ", failure)
    return result


@pytest.fixture(
    scope="module", params=[NORMAL_POINTS, pytest.param(SLOW_POINTS, marks=pytest.mark.slow)]
)
def kill_loop_result(request, tmp_path_factory):
    root = fast_dir(tmp_path_factory.mktemp("killloop"))
    try:
        yield kill_loop(root, request.param)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_kill9_at_random_points_loses_no_acknowledged_event(kill_loop_result):
    """kill -9 during add/get/share/revoke/rotate/sync: every acknowledged event survives,
    in the folder, in the writer's mirror and (for a push) in the remote."""
    r = kill_loop_result
    assert r.points >= NORMAL_POINTS
    assert r.acks > r.points // 2 and r.syncs > 0
    assert set(r.ops) >= {"add", "share", "revoke", "rotate", "get", "sync"}
    assert set(r.killed_during) >= {"add", "share", "revoke", "rotate", "get", "sync"}
    assert r.lost == []


def test_kill9_at_random_points_leaves_at_most_one_torn_tail_per_log(kill_loop_result):
    assert kill_loop_result.torn_over_one == []


def test_kill9_at_random_points_leaves_chains_that_verify(kill_loop_result):
    """After every kill both machines reload without an integrity alarm and audit verify
    passes; any failure here is a false alarm caused by the crash."""
    assert kill_loop_result.failures == []


# --- kill at every disk call of one operation -------------------------------------------------


OPS = [
    ("client", "add"),
    ("client", "share"),
    ("client", "revoke"),
    ("client", "rotate"),
    ("secretary", "get"),
]


def snapshot(world: World, to: Path) -> None:
    shutil.copytree(world.root, to, symlinks=True)


def restore(world: World, snap: Path) -> None:
    shutil.rmtree(world.root)
    shutil.copytree(snap, world.root, symlinks=True)


@dataclass
class PointsResult:
    op: str
    calls: list[str] = field(default_factory=list)
    runs: int = 0
    half_written: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def calls_of(z: Zygote, op: str) -> tuple[list[str], list[str]]:
    """Run `op` to completion; the disk calls it made (with their paths) and its output."""
    z.send(f"op {op} -1 0")
    lines = z.collect()
    calls = [line for line in lines if line.startswith("CALLS ")]
    assert calls, lines
    return json.loads(calls[0][len("CALLS ") :]), lines


def every_point(tmp: Path, role: str, op: str) -> PointsResult:
    """Run `op` once per disk call, killed just before that call (and, for a write, after
    half of it); after each kill check the machines, then run the op again and re-check."""
    world = loop_world(tmp / "w")
    home = world.client if role == "client" else world.secretary
    snap = tmp / "snap"
    snapshot(world, snap)
    writer = world.owner_id if role == "client" else world.member_id
    before = read_log(world.log(writer)).count(b"\n")
    z = Zygote(world, home, role)
    result = PointsResult(op)
    try:
        result.calls, _ = calls_of(z, op)
        points = [(k, False) for k in range(len(result.calls))]
        points += [(k, True) for k, c in enumerate(result.calls) if c.startswith("write")]
        for k, torn in points:
            restore(world, snap)
            where = f"{'torn write + ' if torn else ''}kill at call {k} ({result.calls[k]})"
            z.send(f"op {op} {k} {int(torn)}")
            acks, _, errors = parse(z.collect())
            result.runs += 1
            assert not acks and not errors, f"{where}: {acks or errors}"
            data = read_log(world.log(writer))
            complete, tail = data.count(b"\n"), data.rsplit(b"\n", 1)[-1]
            if complete not in range(before, before + 3) or (tail and not torn):
                result.half_written.append(
                    f"{where}: {complete - before} new lines, torn tail {len(tail)} bytes"
                )
            for h in (world.client, world.secretary):
                wrong, torn_tails = inspect(world, h, full=True)
                if wrong or any(n > 1 for n in torn_tails.values()):
                    result.failures.append(f"{where}, {h.name} after reload: {wrong}")
            z.send(f"op {op} -1 0")  # the next command on the same machine
            acks, _, errors = parse(z.collect())
            if errors:
                result.failures.append(f"{where}, next {op}: {errors[0]}")
            else:
                result.lost += [f"{where}: {a}" for a in lost(world, acks)]
            for h in (world.client, world.secretary):
                wrong, _ = inspect(world, h, full=True)
                if wrong:
                    result.failures.append(f"{where}, {h.name} after the next {op}: {wrong}")
    finally:
        z.close()
    print(
        f"\n{op}: {len(result.calls)} disk calls, {result.runs} kill points, "
        f"{len(result.failures)} failures"
    )
    for failure in result.failures[:4]:
        print("  ", failure)
    return result


_points_cache: dict[str, PointsResult] = {}


@pytest.fixture(params=OPS, ids=[op for _, op in OPS])
def points_result(request, tmp_path_factory):
    role, op = request.param
    if op not in _points_cache:
        root = fast_dir(tmp_path_factory.mktemp(f"points-{op}"))
        try:
            _points_cache[op] = every_point(root, role, op)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return _points_cache[op]


def test_kill_at_every_disk_call_leaves_each_event_whole_or_absent(points_result):
    """A kill (or a torn write) at any write/fsync of the operation leaves its events either
    absent or complete, with at most a torn last line; the next command's event is kept."""
    r = points_result
    assert r.runs >= len(r.calls) >= 4
    assert r.half_written == []
    assert r.lost == []


def test_kill_at_every_disk_call_leaves_chains_that_verify(points_result):
    """After a kill at any disk call, both machines reload and audit-verify cleanly, before
    and after the next command."""
    assert points_result.failures == []


def test_the_owners_kill_points_include_the_items_journal_append(points_result):
    """An owner's edit of one item appends it to the state cache's journal: the kill points
    above cover that append (and `inspect` compares the state each reload gives with the
    one the mirror rebuilds to). The journal alone is not fsynced: a line a power cut
    loses does not belong with the fsynced state.json (tests/test_state_cache.py)."""
    r = points_result
    journal = [c for c in r.calls if "items.journal" in c]
    if r.op == "get":  # a member's receipt changes no item
        assert journal == [], r.calls
    else:
        assert any(c.startswith("write") for c in journal), r.calls
        assert not any(c.startswith("fsync") for c in journal), r.calls
        assert any(c.startswith("fsync") and "state.json" in c for c in r.calls), r.calls


def _state_save_after_mirror(calls: list[str]) -> int:
    mirror_write = next(k for k, c in enumerate(calls) if c.startswith("write") and "/mirror/" in c)
    return next(
        k
        for k, c in enumerate(calls)
        if k > mirror_write and c.startswith("write") and ".state.json." in c
    )


def test_kill_between_mirror_append_and_state_save_does_not_duplicate_the_mirror(tmp_path, zygotes):
    world = loop_world(tmp_path)
    z = zygotes(world, world.client, "client")
    point = _state_save_after_mirror(calls_of(z, "add")[0])
    z.send(f"op add {point} 0")
    assert not parse(z.collect())[0]
    for _ in range(2):
        z.send("op add -1 0")
        acks, _, errors = parse(z.collect())
        assert errors == [] and len(acks) == 1
    wrong, _ = inspect(world, world.client, full=True)
    assert wrong == []


def torn_receipt(world: World, z: Zygote) -> None:
    """Power cut in the middle of the secretary's receipt write (a torn line in the folder)."""
    calls, _ = calls_of(z, "get")
    folder_write = next(
        k for k, c in enumerate(calls) if c.startswith("write") and str(world.folder / "logs") in c
    )
    z.send(f"op get {folder_write} 1")
    assert parse(z.collect())[0] == []  # killed: no secret released


def test_torn_write_of_my_log_is_quarantined_and_the_next_append_continues(tmp_path, zygotes):
    """The torn line is reported as 'torn' (not tampering) with its place, kept in
    quarantine, cut off by the next append, and the chain verifies on both machines."""
    world = loop_world(tmp_path)
    z = zygotes(world, world.secretary, "secretary")
    torn_receipt(world, z)
    loaded = world.store(world.client).load()
    torn = [p for p in loaded.problems if p.kind == "torn"]
    assert [(p.log, p.seq, p.fatal) for p in torn] == [(world.member_id, 1, False)]
    assert not loaded.fatal
    tail = read_log(world.member_log).rsplit(b"\n", 1)[-1]
    z.send("op get -1 0")
    acks, _, errors = parse(z.collect())
    assert errors == [] and len(acks) == 1
    kept = world.store(world.secretary).mirror.quarantined()
    assert kept and all(path.read_bytes() == tail for path in kept)
    for home in (world.client, world.secretary):
        wrong, torn_now = inspect(world, home, full=True)
        assert wrong == [] and torn_now == {}
    assert lost(world, acks) == []


def test_one_torn_tail_is_quarantined_once(tmp_path, zygotes):
    world = loop_world(tmp_path)
    z = zygotes(world, world.secretary, "secretary")
    torn_receipt(world, z)
    z.send("op get -1 0")
    assert len(parse(z.collect())[0]) == 1
    for home in (world.secretary, world.client):
        assert len(world.store(home).mirror.quarantined()) <= 1
