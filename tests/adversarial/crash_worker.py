"""Helper processes for the crash and concurrency tests.

Run as a script (never collected by pytest):

    crash_worker.py zygote HOME ROLE
        Imports takusu and unlocks HOME's identity once, then reads commands on stdin and
        forks one child per command, so a kill point costs a fork instead of a start-up:
          loop SEED DELAY   the child runs random operations for ROLE until the zygote
                            kills it with SIGKILL after DELAY seconds
          op NAME KILL_AT TORN
                            the child runs one operation through a Disk that kills the
                            process just before its KILL_AT-th write/fsync (-1: never);
                            with TORN=1 a write is cut in half before the kill
          quit
        The child prints one line per acknowledged operation, *after* the library call
        returned (`ACK <op> <log> <seq> <hash>`, `SYNC <log> <seq> <hash>` when a push
        succeeded); the zygote prints `DONE <status>` once the child and anything it
        started (git) have exited.
    crash_worker.py adder HOME COUNT PREFIX   unlock, print READY, wait for a line on stdin,
                                              then COUNT adds, one ACK line each
    crash_worker.py hold-lock HOME            take the vault's lock, print LOCKED, sleep

Identities are in passphrase mode (TAKUSU_PASSPHRASE), as on a machine without a keyring.
Imported as a module, it also gives the tests the world these workers run in (loop_world:
tests/world.py's, in passphrase mode, with the LOOP items), the parent's side of a zygote
(Zygote) and the checks run after a kill (inspect, lost, fresh_acks).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: import the tree this file belongs to
    sys.path.insert(0, str(ROOT))

from tests.logs import log_events, read_log  # noqa: E402
from tests.world import LOOP, STABLE, TEMP, World, build, machine  # noqa: E402
from vault import audit, fsutil, sharing  # noqa: E402
from vault.errors import StorageError, TakusuError  # noqa: E402
from vault.item import empty_payload  # noqa: E402
from vault.machine import Machine  # noqa: E402


def loop_world(root: Path, *, git_remote: bool = False) -> World:
    """Client + secretary (passphrase mode) with the STABLE and TEMP items, shared as LOOP says."""
    world = build(root, items=LOOP, key_mode="passphrase", git_remote=git_remote)
    for home in (world.client, world.secretary):  # a fresh state cache, its journal empty:
        for cache in (home / "vaults").glob("*/state.json"):  # the owner's next edit of
            cache.unlink()  # one item is a journal append (as in any vault past a few items)
        world.store(home).load()
    return world


def lib(home: Path) -> Machine:
    """A worker's machine: passphrase mode, like the world it runs in."""
    return machine(home, "passphrase")


# --- fault injection ------------------------------------------------------------------------


class KillDisk(fsutil.Disk):
    """SIGKILLs this process just before its `kill_at`-th write or fsync (a power cut there).

    With `torn`, a write at that point first writes half its bytes (a torn write)."""

    def __init__(self, kill_at: int, torn: bool = False) -> None:
        self.kill_at = kill_at
        self.torn = torn
        self.calls: list[str] = []

    def _point(self, kind: str, fd: int, data: bytes | None = None) -> None:
        with contextlib.suppress(OSError):
            kind += " " + os.readlink(f"/proc/self/fd/{fd}")
        self.calls.append(kind)
        if len(self.calls) - 1 == self.kill_at:
            if self.torn and data is not None and len(data) > 1:
                os.write(fd, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)

    def write(self, fd: int, data: bytes) -> int:
        self._point("write", fd, data)
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        self._point("fsync", fd)
        os.fsync(fd)


# --- operations (each one command's worth of library calls) ---------------------------------


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def _ack(op: str, sess: Any) -> None:
    head = sess.state["heads"][sess.me.id]
    _say(f"ACK {op} {sess.me.id} {head['seq']} {head['hash']}")


def _titles(sess: Any) -> dict[str, str]:
    return {title: item_id for item_id, title in sess.titles().items()}


def client_op(t: Machine, name: str, rng: random.Random) -> None:
    sess = t.session("acme")
    titles = _titles(sess)
    temp = [titles[x] for x in TEMP if x in titles]
    granted = [i for i in temp if sess.state["items"][i]["grants"]]
    if name == "add":
        payload = empty_payload()
        payload.update(title=f"Added-{os.getpid()}-{rng.randrange(1 << 30)}", password="p4ss")
        sess.add(payload)
    elif name == "share":
        free = [i for i in temp if i not in granted]
        if not free:
            return
        sharing.share(sess, rng.choice(free), sharing.member_by_name(sess, "aiko"), None)
    elif name == "revoke":
        if not granted:
            return
        item_id = rng.choice(granted)
        sharing.revoke(sess, item_id, sharing.member_by_name(sess, "aiko"), "revoked by owner")
    elif name == "rotate":
        sharing.rotate(sess, rng.choice(temp), {"password": f"rotated-{rng.randrange(1 << 30)}"})
    elif name == "sync":
        from vault.gitsync import sync

        head = sess.state["heads"][sess.me.id]
        result = sync(sess)
        if result.pushed:
            _say(f"SYNC {sess.me.id} {head['seq']} {head['hash']}")
        return
    else:
        raise SystemExit(f"unknown op {name}")
    _ack(name, sess)


def secretary_op(t: Machine, name: str, rng: random.Random) -> None:
    sess = t.session("acme")
    titles = _titles(sess)
    stable = [titles[x] for x in STABLE if x in titles]
    values = sess.reveal(rng.choice(stable), ["password"], "crash test")
    assert values["password"].startswith("pw-Stable")  # the secret is released only now
    _ack(name, sess)


CLIENT_OPS = ("add", "share", "revoke", "rotate")


def run_loop(t: Machine, role: str, seed: int, with_sync: bool) -> None:
    rng = random.Random(seed)
    ops = CLIENT_OPS + (("sync",) if with_sync else ())
    while True:
        name = rng.choice(ops) if role == "client" else "get"
        _say(f"BEGIN {name}")
        (client_op if role == "client" else secretary_op)(t, name, rng)


def run_one(t: Machine, role: str, name: str) -> None:
    rng = random.Random(0)
    (client_op if role == "client" else secretary_op)(t, name, rng)


# --- the zygote -----------------------------------------------------------------------------


def _become_subreaper() -> None:
    """Orphans (a git started by a killed child) become ours, so we can wait for them."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_all(first: int) -> int:
    _, status = os.waitpid(first, 0)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return status


def _one_op(t: Machine, role: str, name: str, disk: KillDisk) -> None:
    run_one(t, role, name)
    _say("CALLS " + json.dumps(disk.calls))


def _child(run: Any) -> None:
    code = 0
    try:
        run()
    except TakusuError as exc:
        if isinstance(exc, StorageError) and exc.message.startswith("git pull"):
            # Client and secretary share ONE git work tree in this loop, and the secretary
            # keeps appending to her log in it; git refuses to rebase over a file changed
            # under it. That is a clean one-line refusal (nothing changed, retried next
            # round), a documented limit of `sync` (one person per clone), not an alarm.
            _say(f"REFUSED {exc.message}")
        else:
            _say(f"ERROR {type(exc).__name__} {exc.message} | {exc.hint}")
            code = 1
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        _say(f"CRASH {type(exc).__name__} {exc}")
        code = 2
    os._exit(code)


def zygote(home: Path, role: str) -> None:
    _become_subreaper()
    t = lib(home)
    t.identity()  # unlock once (Argon2id), children inherit it
    with_sync = (Path(t.home.resolve("acme")[1]["path"]) / ".git").exists()
    _say("READY")
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "loop":
            seed, delay = int(words[1]), float(words[2])
            pid = os.fork()
            if pid == 0:
                _child(functools.partial(run_loop, t, role, seed, with_sync))
            time.sleep(delay)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        elif words[0] == "op":
            name, kill_at, torn = words[1], int(words[2]), words[3] == "1"
            disk = KillDisk(kill_at, torn)
            pid = os.fork()
            if pid == 0:
                t.disk = disk

                _child(functools.partial(_one_op, t, role, name, disk))
        else:
            raise SystemExit(f"unknown command {words[0]}")
        status = _reap_all(pid)
        _say(f"DONE {status}")


def adder(home: Path, count: int, prefix: str) -> None:
    t = lib(home)
    t.identity()
    _say("READY")
    sys.stdin.readline()  # start together with the other writers
    for n in range(count):
        sess = t.session("acme")
        payload = empty_payload()
        payload.update(title=f"{prefix}-{n}", password="p4ss")
        sess.add(payload)
        _ack("add", sess)


def hold_lock(home: Path) -> None:
    t = lib(home)
    _, vaults = t.vaults()
    (vault_id,) = vaults
    with fsutil.locked(t.home.path / "locks" / f"{vault_id}.lock"):
        _say("LOCKED")
        time.sleep(600)


# --- the parent's side: driving zygotes and checking machines after a kill ----------------


class Zygote:
    """A crash_worker.py zygote for one home: send commands, collect the lines they print."""

    def __init__(self, world: World, home: Path, role: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "zygote", str(home), role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=world.env(home),
            cwd=ROOT,
        )
        self.buffer = b""
        assert self.readline(30) == "READY"

    def readline(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError("the crash worker stopped answering")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("the crash worker exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def send(self, command: str) -> None:
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def collect(self) -> list[str]:
        lines = []
        while not (line := self.readline()).startswith("DONE"):
            lines.append(line)
        return lines

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def fast_dir(fallback: Path) -> Path:
    """A scratch folder on tmpfs when there is one: a kill -9 keeps the page cache, so fsync
    cost buys nothing here and only slows the loop (power cuts are the Disk-seam cases)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="takusu-crash-", dir=shm))
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


@dataclass
class Ack:
    op: str
    log: str
    seq: int
    hash: str


def parse(lines: list[str]) -> tuple[list[Ack], list[Ack], list[str]]:
    acks, syncs, errors = [], [], []
    for line in lines:
        words = line.split()
        if words[0] == "ACK":
            acks.append(Ack(words[1], words[2], int(words[3]), words[4]))
        elif words[0] == "SYNC":
            syncs.append(Ack("sync", words[1], int(words[2]), words[3]))
        elif words[0] in ("ERROR", "CRASH"):
            errors.append(line)
    return acks, syncs, errors


def interrupted(lines: list[str]) -> str:
    """The operation the kill landed in: the last one begun and not acknowledged."""
    begun = [line.split()[1] for line in lines if line.startswith("BEGIN ")]
    done = [line for line in lines if line.startswith(("ACK ", "SYNC "))]
    last = next(
        (line for line in reversed(lines) if line.startswith(("BEGIN ", "ACK ", "SYNC "))), None
    )
    if not begun or last is None or not last.startswith("BEGIN "):
        return "between operations" if begun or done else "session start"
    return begun[-1]


def inspect(world: World, home: Path, full: bool = False) -> tuple[list[str], dict[str, int]]:
    """Reload `home` like the next command would. Returns (what is wrong, torn tails per log)."""
    store = world.store(home)
    try:
        loaded = store.load()
    except TakusuError as exc:
        return [f"load raised {type(exc).__name__}: {exc}"], {}
    wrong = [f"{p.kind}: {p}" for p in loaded.fatal]
    torn: dict[str, int] = {}
    for p in loaded.problems:
        if p.kind == "torn":
            torn[p.log] = torn.get(p.log, 0) + 1
    for log in loaded.state["heads"]:
        mirrored, folder = store.mirror.read(log), read_log(world.log(log))
        if not folder.startswith(mirrored):
            wrong.append(
                f"mirror of log {log[:12]} is not a prefix of the folder's log "
                f"({len(mirrored)} vs {len(folder)} bytes)"
            )
    if full:
        # the state cache (items.json, its journal, retrievals.json, state.json) says what
        # the mirror says
        rebuilt = store.arrivals.rebuild(store.owner_card, [])
        if rebuilt != loaded.state:
            differ = sorted(k for k in rebuilt if rebuilt[k] != loaded.state.get(k))  # type: ignore[literal-required]
            wrong.append(f"the state cache differs from the mirror rebuilt: {differ}")
        try:
            report = audit.verify(store, loaded)
        except TakusuError as exc:
            return wrong + [f"audit verify raised {type(exc).__name__}: {exc}"], torn
        wrong += [f"audit verify: {p.kind}: {p}" for p in report.problems if p.fatal]
    return wrong, torn


EVENT_OF = {
    "add": "item.put",
    "rotate": "item.put",
    "revoke": "item.put",
    "share": "grant",
    "get": "retrieve",
}


def lost(world: World, acks: list[Ack]) -> list[Ack]:
    """Acknowledged events that are not in the folder's log at their place, or not the event
    the operation writes. (Whether every machine still verifies the folder is the separate
    'chains that verify' check.)"""
    missing = []
    lines: dict[str, list[bytes]] = {}
    for ack in acks:
        if ack.log not in lines:
            lines[ack.log] = read_log(world.log(ack.log)).split(b"\n")[:-1]
        found = lines[ack.log]
        if len(found) <= ack.seq or log_events(found[ack.seq] + b"\n", ack.log, ack.seq) != [
            (ack.hash, EVENT_OF[ack.op])
        ]:
            missing.append(ack)
    return missing


def fresh_acks(acks: list[Ack]) -> list[str]:
    """Each acknowledged operation wrote a new event: sequence numbers only go up."""
    last: dict[str, int] = {}
    wrong = []
    for ack in acks:
        if ack.seq <= last.get(ack.log, -1):
            wrong.append(f"{ack.op} acknowledged without a new event (seq {ack.seq})")
        last[ack.log] = ack.seq
    return wrong


def main(argv: list[str]) -> None:
    mode, home = argv[0], Path(argv[1])
    if mode == "zygote":
        zygote(home, argv[2])
    elif mode == "adder":
        adder(home, int(argv[2]), argv[3])
    elif mode == "hold-lock":
        hold_lock(home)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
