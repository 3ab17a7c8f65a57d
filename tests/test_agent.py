"""The agent: real agent processes on real Unix sockets, and the server loop in a thread
with a fake clock for the timers.

Every test has its own TAKUSU_HOME and its own short private XDG_RUNTIME_DIR under /tmp
(a socket path must fit in 108 bytes, and the other-uid test must be able to reach it).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import agent_handler
from vault.agent import client, launch, paths, protocol, server, status, watch
from vault.agent.errors import (
    AgentError,
    AgentNotRunning,
    AgentStopped,
    AgentVersionMismatch,
    PeerRefused,
)
from vault.encoding import b64e
from vault.errors import BadSignature, IntegrityError, NotFound, NotInitialized, UsageError
from vault.identity import Identity

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "tests.agent_handler:handle"
TICK = 0.02


@pytest.fixture(scope="module")
def identity() -> Identity:
    return Identity.generate("Test")


@dataclass
class Env:
    home: Path
    xdg: Path
    identity: Identity

    @property
    def socket(self) -> Path:
        return paths.socket_path(self.home)

    def start(self, **kwargs: Any) -> status.Status:
        kwargs.setdefault("handler", HANDLER)
        kwargs.setdefault("tick", TICK)
        return launch.start(self.home, self.identity, **kwargs)


def write_key_file(home: Path, identity_id: str) -> None:
    """What the agent reads of identity.key: its id (the rest is the keystore's business)."""
    path = home / watch.KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps({"v": 1, "id": identity_id, "mode": "passphrase"}))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, identity: Identity) -> Iterator[Env]:
    xdg = Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp"))  # 0700, and short
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    write_key_file(home, identity.id)
    yield Env(home, xdg, identity)
    with contextlib.suppress(Exception):
        client.stop(home, timeout=2.0)
    launch._reap()
    shutil.rmtree(xdg, ignore_errors=True)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.01)


def is_dead(pid: int) -> bool:
    """True once `pid` has exited (a zombie counts as exited; ours are reaped here)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def raw_exchange(path: Path, payload: bytes) -> Any:
    """Send raw bytes to the agent socket and read one reply frame (no client checks)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(payload)
        return protocol.receive(sock)


# --- the whole life of an agent process ----------------------------------------------------


def test_start_status_call_lock(env: Env) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    status = env.start(idle=timedelta(minutes=15), max_age=timedelta(hours=8))
    assert (status.name, status.id) == ("Test", env.identity.id)
    assert status.protocol == protocol.PROTOCOL and status.socket == env.socket
    assert before <= status.started <= datetime.now(UTC)
    assert status.idle_deadline == status.started + timedelta(minutes=15)
    assert status.max_deadline == status.started + timedelta(hours=8)
    assert status.until == status.idle_deadline
    assert env.socket.parent == env.xdg / "takusu"
    assert oct(env.socket.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(env.socket.lstat().st_mode & 0o777) == "0o600"

    assert client.call(env.home, "echo", {"a": [1, "ü", None]}) == {"a": [1, "ü", None]}
    assert client.call(env.home, "whoami") == "Test"
    assert client.call(env.home, "home") == str(env.home)
    used = client.running(env.home)
    assert used is not None and used.idle_deadline >= status.idle_deadline  # calls re-arm it
    time.sleep(1.1)  # deadlines are whole seconds: a re-arm by `status` would show now
    assert client.running(env.home) == used  # status does not move the idle deadline

    assert client.stop(env.home) is True
    assert not env.socket.exists()  # gone before stop() returns
    assert client.running(env.home) is None
    assert client.stop(env.home) is False
    with pytest.raises(AgentNotRunning) as caught:
        client.call(env.home, "echo")
    assert caught.value.hint == "run 'takusu unlock' first"
    wait_until(lambda: is_dead(status.pid), what="the locked agent to exit")


def test_without_an_agent_nothing_is_created(env: Env) -> None:
    assert client.running(env.home) is None
    assert not (env.xdg / "takusu").exists()


def test_start_replaces_a_running_agent(env: Env) -> None:
    first = env.start()
    second = env.start(idle=timedelta(minutes=5))
    assert second.pid != first.pid
    assert second.idle_deadline == second.started + timedelta(minutes=5)
    wait_until(lambda: is_dead(first.pid), what="the replaced agent to exit")
    assert client.running(env.home) == second


def test_the_socket_falls_back_to_takusu_home(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    os.chmod(env.xdg, 0o755)  # noqa: S103 - not private, so not used
    assert paths.runtime_dir(env.home) == env.home / "run"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert paths.runtime_dir(env.home) == env.home / "run"
    status = env.start()
    assert status.socket.parent == env.home / "run"
    assert client.call(env.home, "whoami") == "Test"


def test_one_agent_per_home(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    write_key_file(other, env.identity.id)
    assert paths.socket_path(other) != env.socket
    first = env.start()
    second = launch.start(other, env.identity, handler=HANDLER, tick=TICK)
    try:
        assert client.running(env.home) == first and client.running(other) == second
    finally:
        client.stop(other)


# --- errors --------------------------------------------------------------------------------


def test_concurrent_clients_are_all_answered(env: Env) -> None:
    env.start()
    answers: list[Any] = []

    def calls(n: int) -> None:
        answers.extend(client.call(env.home, "echo", {"n": n, "i": i}) for i in range(10))

    threads = [threading.Thread(target=calls, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    expected = [(n, i) for n in range(8) for i in range(10)]
    assert sorted((a["n"], a["i"]) for a in answers) == expected


def test_errors_keep_class_message_hint_and_exit_code(env: Env) -> None:
    env.start()
    with pytest.raises(NotFound) as user:
        client.call(env.home, "fail_user", {"title": "Bank"})
    assert (user.value.message, user.value.hint, user.value.exit_code) == (
        "no item named 'Bank'",
        "'takusu list' shows them",
        1,
    )
    with pytest.raises(BadSignature) as integrity:
        client.call(env.home, "fail_integrity")
    assert integrity.value.exit_code == 3
    assert integrity.value.message == f"the event does not verify (log {'ab' * 16}, seq 7)"
    with pytest.raises(AgentError) as custom:
        client.call(env.home, "fail_custom")
    assert (custom.value.kind, custom.value.message, custom.value.hint) == (
        "CustomError",
        "a custom failure",
        "a custom hint",
    )
    assert custom.value.exit_code == agent_handler.CustomError.exit_code == 42


def test_internal_errors_leak_no_text_and_the_agent_goes_on(env: Env) -> None:
    env.start()
    with pytest.raises(AgentError) as crash:
        client.call(env.home, "crash")
    assert crash.value.kind == "InternalError"
    assert agent_handler.LEAK not in f"{crash.value.message} {crash.value.hint}"
    assert "ValueError" not in crash.value.message
    assert crash.value.message == "the agent failed in 'crash'; nothing was returned"
    with pytest.raises(AgentError, match="not plain JSON"):
        client.call(env.home, "float")
    with pytest.raises(AgentError, match="too large") as big:
        client.call(env.home, "big")
    assert big.value.kind == "ResultTooLarge"
    assert client.call(env.home, "whoami") == "Test"


def test_malformed_requests_get_an_error_reply(env: Env) -> None:
    env.start()
    too_big = struct.pack(">I", protocol.MAX_FRAME + 1)
    reply = raw_exchange(env.socket, too_big)
    assert reply["ok"] is False and reply["error"]["type"] == "ProtocolError"
    not_json = b"{nope"
    reply = raw_exchange(env.socket, struct.pack(">I", len(not_json)) + not_json)
    assert reply["error"]["type"] == "ProtocolError"
    no_op = protocol.encode({"v": protocol.PROTOCOL, "args": {}})
    assert raw_exchange(env.socket, no_op)["error"]["type"] == "ProtocolError"
    assert client.call(env.home, "whoami") == "Test"


def test_a_version_mismatch_is_recognised_and_the_old_agent_replaced(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = env.start()
    reply = raw_exchange(env.socket, protocol.encode({"v": 99, "op": "status", "args": {}}))
    assert reply["ok"] is False and reply["error"]["type"] == protocol.VERSION_MISMATCH
    assert reply["v"] == protocol.PROTOCOL

    monkeypatch.setattr(protocol, "PROTOCOL", 2)  # this side is now a newer takusu
    with pytest.raises(AgentVersionMismatch) as caught:
        client.running(env.home)
    assert "unlock" in (caught.value.hint or "")
    with pytest.raises(AgentVersionMismatch):
        client.call(env.home, "whoami")
    assert client.stop(env.home) is True  # it cannot say "lock" to it: SIGTERM by peer pid
    assert not env.socket.exists()
    wait_until(lambda: is_dead(old.pid), what="the old agent to exit")


def test_a_reply_of_another_version_is_recognised() -> None:
    with pytest.raises(AgentVersionMismatch):
        client._result({"v": 7, "ok": True, "result": 1})
    assert client._result({"v": protocol.PROTOCOL, "ok": True, "result": 1}) == 1


# --- the agent goes away ---------------------------------------------------------------------


def test_stale_socket_of_a_killed_agent_is_cleaned_up(env: Env) -> None:
    status = env.start()
    os.kill(status.pid, signal.SIGKILL)
    wait_until(lambda: is_dead(status.pid), what="the killed agent to die")
    assert env.socket.exists()  # SIGKILL leaves it behind
    assert client.running(env.home) is None
    assert not env.socket.exists()
    with pytest.raises(AgentNotRunning):
        client.call(env.home, "echo")
    assert env.start().pid != status.pid


def test_kill_9_in_the_middle_of_a_request_gives_a_clear_error(env: Env, tmp_path: Path) -> None:
    status = env.start()
    marker = tmp_path / "inside"
    outcome: list[BaseException | Any] = []

    def slow_call() -> None:
        try:
            outcome.append(client.call(env.home, "slow", {"marker": str(marker), "seconds": 60}))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    caller = threading.Thread(target=slow_call, daemon=True)
    caller.start()
    wait_until(marker.exists, what="the agent to be inside the slow op")
    os.kill(status.pid, signal.SIGKILL)
    caller.join(10)
    assert not caller.is_alive(), "the client hangs after the agent died"
    [error] = outcome
    assert isinstance(error, AgentError)
    assert error.message == "the agent stopped while answering; nothing was returned"
    assert isinstance(error, AgentStopped) and error.hint
    assert client.running(env.home) is None  # and its socket is cleaned up
    assert not env.socket.exists()


def test_a_silent_agent_times_out(env: Env, tmp_path: Path) -> None:
    env.start()
    marker = tmp_path / "inside"
    with pytest.raises(AgentError, match="did not answer within 0.3 s"):
        client.call(env.home, "slow", {"marker": str(marker), "seconds": 1}, timeout=0.3)


def test_sigterm_stops_the_agent_and_removes_its_socket(env: Env) -> None:
    status = env.start()
    os.kill(status.pid, signal.SIGTERM)
    wait_until(lambda: is_dead(status.pid), what="the agent to stop on SIGTERM")
    assert not env.socket.exists()


def test_the_agent_locks_itself_when_idle(env: Env) -> None:
    status = env.start(idle=timedelta(seconds=1))
    wait_until(lambda: is_dead(status.pid), what="the idle agent to lock itself")
    assert not env.socket.exists()
    assert client.running(env.home) is None


@pytest.mark.parametrize("change", ["rewrite", "remove", "touch"])
def test_the_agent_locks_itself_when_the_identity_file_changes(env: Env, change: str) -> None:
    status = env.start()
    key_file = env.home / watch.KEY_FILE
    if change == "rewrite":
        write_key_file(env.home, "0" * 32)
    elif change == "remove":
        key_file.unlink()
    else:
        os.utime(key_file, ns=(1, 1))
    wait_until(lambda: is_dead(status.pid), what="the agent to notice the identity file")
    assert not env.socket.exists()


def test_a_new_identity_replaces_the_agent_of_the_old_one(env: Env) -> None:
    old = env.start(tick=60.0)  # it will not notice the change by itself in this test
    newer = Identity.generate("Newer")
    write_key_file(env.home, newer.id)  # e.g. 'takusu init --restore' in this home
    status = launch.start(env.home, newer, handler=HANDLER)
    assert (status.name, status.id) == ("Newer", newer.id)
    assert client.call(env.home, "whoami") == "Newer"
    wait_until(lambda: is_dead(old.pid), what="the old agent to exit")


def test_start_checks_the_identity_file(env: Env) -> None:
    write_key_file(env.home, "f" * 32)
    with pytest.raises(IntegrityError, match="another identity"):
        env.start()
    (env.home / watch.KEY_FILE).unlink()
    with pytest.raises(NotInitialized):
        env.start()
    assert client.running(env.home) is None


def test_start_checks_its_arguments(env: Env) -> None:
    with pytest.raises(UsageError, match="positive"):
        env.start(idle=timedelta(0))
    with pytest.raises(UsageError, match="cannot be found"):
        env.start(handler="tests.no_such_module:handle")
    with pytest.raises(UsageError, match="must look like"):
        env.start(handler="tests.agent_handler")
    with pytest.raises(AgentError, match="could not load its operations"):
        env.start(handler="tests.agent_handler:no_such_function")


# --- who may talk to it --------------------------------------------------------------------


def test_peer_check_refuses_another_uid() -> None:
    server.check_peer(os.geteuid(), os.geteuid())
    with pytest.raises(PeerRefused):
        server.check_peer(1000, 0)
    with pytest.raises(PeerRefused):
        server.check_peer(0, 1000)


NOBODY_PEER = r"""
import json, socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(5)
sock.connect(sys.argv[1])
body = json.dumps({"v": 1, "op": sys.argv[2], "args": {}}).encode()
try:
    sock.sendall(struct.pack(">I", len(body)) + body)
except BrokenPipeError:
    pass  # refused before it read the request: the reply is still there
data = b""
while True:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
print(data[4:].decode())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a peer as another user")
def test_another_user_is_refused_by_peer_credentials(env: Env) -> None:
    status = env.start()
    sock = env.socket  # (now: with XDG_RUNTIME_DIR open to others it would not be used)
    reachable = [(env.xdg, 0o711), (sock.parent, 0o711), (sock, 0o777)]
    try:
        for path, mode in reachable:
            os.chmod(path, mode)
        replies = []
        for op in ("status", "whoami"):
            done = subprocess.run(
                ["/usr/bin/python3", "-I", "-c", NOBODY_PEER, str(sock), op],
                user="nobody",
                group="nogroup",
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            replies.append(json.loads(done.stdout))
    finally:
        for path, mode in reachable:
            os.chmod(path, 0o600 if mode == 0o777 else 0o700)
    for reply in replies:
        assert reply["ok"] is False and "result" not in reply
        assert reply["error"]["type"] == "PeerRefused"
        assert "Test" not in json.dumps(reply) and env.identity.id not in json.dumps(reply)
    assert client.running(env.home) == status  # refused peers do not touch it


class _Creds:
    """A socket whose SO_PEERCRED answer is given bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def getsockopt(self, _level: int, _option: int, _size: int) -> bytes:
        return self.raw


def test_peer_credentials_read_struct_ucred_and_refuse_what_they_do_not_know() -> None:
    """pid_t, uid_t and gid_t in this machine's byte order; a uid past 2**31 is that uid
    (not a negative number), and an answer of another size is an error, never uid 0."""
    import socket as real

    a, b = real.socketpair(real.AF_UNIX, real.SOCK_STREAM)
    with a, b:
        assert client.peer_credentials(a) == (os.getpid(), os.geteuid(), os.getegid())
    order = sys.byteorder
    raw = (7).to_bytes(4, order) + (3_000_000_000).to_bytes(4, order) + (5).to_bytes(4, order)
    assert client.peer_credentials(_Creds(raw)) == (7, 3_000_000_000, 5)  # type: ignore[arg-type]
    for short in (b"", raw[:4], raw[:8], raw + b"\0"):
        with pytest.raises(AgentError):
            client.peer_credentials(_Creds(short))  # type: ignore[arg-type]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_unsafe_socket_folder_is_refused(env: Env, tmp_path: Path) -> None:
    env.start()
    folder = env.socket.parent
    os.chmod(folder, 0o750)  # noqa: S103 - the unsafe mode under test
    with pytest.raises(IntegrityError, match="open to other users") as caught:
        client.running(env.home)
    assert "chmod 700" in (caught.value.hint or "")
    with pytest.raises(IntegrityError):
        env.start()
    os.chmod(folder, 0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(IntegrityError, match="belongs to another user"):
        client.call(env.home, "whoami")
    os.chown(folder, 0, 0)
    assert client.call(env.home, "whoami") == "Test"

    os.chmod(env.socket, 0o666)  # noqa: S103 - the unsafe mode under test
    with pytest.raises(IntegrityError, match="open to other users"):
        client.call(env.home, "whoami")
    os.chmod(env.socket, 0o600)
    os.chown(env.socket, 65534, 65534)
    with pytest.raises(IntegrityError, match="belongs to another user"):
        client.call(env.home, "whoami")
    os.chown(env.socket, 0, 0)
    assert client.stop(env.home) is True

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    shutil.rmtree(folder)
    folder.symlink_to(elsewhere)
    with pytest.raises(IntegrityError, match="symbolic link"):
        client.running(env.home)
    with pytest.raises(IntegrityError, match="symbolic link"):
        env.start()


def test_a_symlink_or_file_in_place_of_the_socket_is_refused(env: Env, tmp_path: Path) -> None:
    paths.ensure_folder(env.socket.parent)
    target = tmp_path / "target"
    target.write_text("x")
    env.socket.symlink_to(target)
    with pytest.raises(IntegrityError, match="symbolic link"):
        client.call(env.home, "whoami")
    env.socket.unlink()
    env.socket.write_text("")
    os.chmod(env.socket, 0o600)
    with pytest.raises(IntegrityError, match="not a socket"):
        client.running(env.home)


def test_socket_path_is_checked_for_length(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with pytest.raises(Exception, match="too long") as caught:
        paths.socket_path(tmp_path / ("x" * 120))
    assert "XDG_RUNTIME_DIR" in (caught.value.hint or "")  # type: ignore[attr-defined]


# --- the agent process keeps its secret ----------------------------------------------------


def test_no_secret_in_the_agent_argv_or_environment(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAKUSU_PASSPHRASE", "a passphrase that must not travel")
    monkeypatch.setenv("SOME_TOKEN", "unrelated but not passed either")
    status = env.start()
    cmdline = Path(f"/proc/{status.pid}/cmdline").read_bytes()
    environ = Path(f"/proc/{status.pid}/environ").read_bytes()
    ident = env.identity
    secrets = [
        ident.private_bytes(),
        b64e(ident.private_bytes()).encode(),
        b64e(ident.signing.raw()).encode(),
        b64e(ident.kem.x25519_raw).encode(),
        b64e(ident.kem.mlkem_seed).encode(),
        ident.signing.raw(),
        b"a passphrase that must not travel",
    ]
    for secret in secrets:
        assert secret not in cmdline and secret not in environ
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert names <= set(launch.ENV_KEEP) | {"TAKUSU_HOME", "PYTHONPATH"}
    assert "TAKUSU_PASSPHRASE" not in names and "SOME_TOKEN" not in names
    proc_status = Path(f"/proc/{status.pid}/status").read_text()
    assert "Umask:\t0077" in proc_status
    limits = Path(f"/proc/{status.pid}/limits").read_text()
    [core] = [line for line in limits.splitlines() if line.startswith("Max core file size")]
    assert core.split()[4:6] == ["0", "0"]
    assert client.call(env.home, "hardening") == {"dumpable": 0, "core": [0, 0]}
    assert os.readlink(f"/proc/{status.pid}/cwd") == "/"
    assert Path(f"/proc/{status.pid}/fd/0").resolve() == Path(os.devnull)


THIN_CLIENT = """
import sys
from pathlib import Path
from vault.agent import client
home = Path(sys.argv[1])
status = client.running(home)
result = client.call(home, "echo", {"n": 1})
try:
    client.call(home, "fail_user", {"title": "x"})
except Exception as exc:
    error = [type(exc).__name__, exc.exit_code]
assert client.stop(home) is True and client.running(home) is None
heavy = ("cryptography", "keyring", "pyotp", "click", "vault.identity", "vault.crypto",
         "vault.keystore", "vault.agent.server", "vault.agent.launch")
print(repr([status.name, result, error, sorted(
    m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))]))
"""


def test_the_client_stays_thin(env: Env) -> None:
    env.start()
    done = subprocess.run(
        [sys.executable, "-c", THIN_CLIENT, str(env.home)],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "XDG_RUNTIME_DIR": str(env.xdg),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    name, result, error, heavy = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert (name, result, error) == ("Test", {"n": 1}, ["NotFound", 1])
    assert heavy == []


# --- the server loop in a thread, on a fake clock --------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


class InThread:
    """serve() on a thread; `.reason` once it has returned."""

    def __init__(self, env: Env, clock: FakeClock, idle: float, max_age: float) -> None:
        self.env, self.reason, self.error = env, None, None
        self.thread = threading.Thread(target=self._run, args=(clock, idle, max_age), daemon=True)
        self.thread.start()
        wait_until(lambda: self.error or client.running(env.home), what="serve() to listen")
        assert self.error is None, self.error

    def _run(self, clock: FakeClock, idle: float, max_age: float) -> None:
        try:
            self.reason = server.serve(
                self.env.home,
                self.env.identity.private_bytes(),
                agent_handler.handle,
                idle=timedelta(seconds=idle),
                max_age=timedelta(seconds=max_age),
                clock=clock,
                tick=TICK,
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def stopped(self) -> str | None:
        self.thread.join(10)
        assert not self.thread.is_alive(), "serve() did not stop"
        assert not self.env.socket.exists()
        return self.reason

    def alive(self) -> bool:
        return self.thread.is_alive()


def test_status_does_not_rearm_the_idle_timer_but_a_call_does(env: Env) -> None:
    clock = FakeClock()
    start = clock()
    agent = InThread(env, clock, idle=60, max_age=3600)
    clock.advance(50)
    status = client.running(env.home)
    assert status is not None and status.idle_deadline == start + timedelta(seconds=60)
    assert client.call(env.home, "whoami") == "Test"  # real use at t=50
    status = client.running(env.home)
    assert status is not None and status.idle_deadline == start + timedelta(seconds=110)
    clock.advance(5)
    with pytest.raises(NotFound):
        client.call(env.home, "fail_user")  # a failed op is use too: t=55
    clock.advance(55)  # t=110 < 115
    time.sleep(TICK * 5)
    assert agent.alive() and client.running(env.home) is not None
    clock.advance(6)  # t=116
    assert agent.stopped() == server.IDLE


def test_the_max_deadline_holds_however_busy(env: Env) -> None:
    clock = FakeClock()
    agent = InThread(env, clock, idle=60, max_age=100)
    for _ in range(3):
        clock.advance(30)
        assert client.call(env.home, "whoami") == "Test"
    status = client.running(env.home)
    assert status is not None and status.until == status.max_deadline
    clock.advance(10)  # t=100
    assert agent.stopped() == server.MAX


def test_lock_and_identity_change_in_thread(env: Env) -> None:
    agent = InThread(env, FakeClock(), idle=60, max_age=100)
    assert client.stop(env.home) is True
    assert agent.stopped() == server.LOCKED
    agent = InThread(env, FakeClock(), idle=60, max_age=100)
    write_key_file(env.home, env.identity.id)  # same id, new file: still a change
    assert agent.stopped() == server.IDENTITY_CHANGED


def test_a_request_after_the_deadline_is_refused() -> None:
    clock = FakeClock()
    timers = server.Timers(clock(), timedelta(seconds=60), timedelta(seconds=100), clock())
    assert timers.expired(clock()) is None
    clock.advance(60)
    assert timers.expired(clock()) == server.IDLE
    timers.last_use = clock()
    clock.advance(40)
    assert timers.expired(clock()) == server.MAX


# --- the protocol on its own ---------------------------------------------------------------


def test_frames_round_trip_and_limits() -> None:
    left, right = socket.socketpair()
    with left, right:
        protocol.send(left, protocol.request("echo", {"x": "ü"}))
        assert protocol.receive(right) == {"v": protocol.PROTOCOL, "op": "echo", "args": {"x": "ü"}}
        left.sendall(struct.pack(">I", 10) + b"{}")
        left.close()
        with pytest.raises(protocol.Closed):
            protocol.receive(right)
    with pytest.raises(protocol.ProtocolError, match="too large"):
        protocol.encode({"x": "y" * protocol.MAX_FRAME})
    assert protocol.jsonable({"a": [1, None, True, "s"]})
    for bad in (1.5, b"x", (1,), {1: "x"}, {"a": {1, 2}}, 2**60):
        assert not protocol.jsonable(bad)


def test_rebuilt_errors_keep_every_field() -> None:
    wire = protocol.error_from(BadSignature("bad", hint="h", log="ab" * 16, seq=2))["error"]
    rebuilt = client.rebuild(wire)
    assert isinstance(rebuilt, BadSignature)
    assert (rebuilt.message, rebuilt.hint, rebuilt.exit_code) == (wire["message"], "h", 3)
    odd = client.rebuild({"type": "NotFound", "message": "m", "hint": None, "exit_code": 9})
    assert isinstance(odd, NotFound) and odd.exit_code == 9 and odd.hint is None
    unknown = client.rebuild({"type": "Whatever", "message": "m", "exit_code": "x"})
    assert isinstance(unknown, AgentError) and unknown.kind == "Whatever"
    assert unknown.exit_code == 1
    assert isinstance(client.rebuild("nonsense"), protocol.ProtocolError)


@pytest.mark.parametrize(
    "path",
    ["rel", "./rel/./x/", "a//b///c", "/abs/../x", "/abs/./y/", "//two/slashes", "///three", "."],
)
def test_the_home_key_path_is_what_pathlib_writes(path: str) -> None:
    """The thin client names the socket without pathlib: its absolute path must be the one
    `Path(home).absolute()` gives, or a command would miss the agent that `unlock` started."""
    assert paths.absolute(path) == str(Path(path).absolute())
    assert paths.socket_path(path) == paths.socket_path(Path(path).absolute())


@pytest.mark.parametrize("data_home", [None, "", "   ", "/tmp/xdg-data"])
def test_the_thin_path_finds_the_default_home_where_platformdirs_does(
    data_home: str | None, monkeypatch, tmp_path: Path
) -> None:
    """Without TAKUSU_HOME the thin client finds the home by the XDG rule itself (importing
    platformdirs costs ~60 ms): it must be the folder `vault.home.default_home` uses."""
    from cli_commands.forward import _home
    from vault.home import default_home

    monkeypatch.delenv("TAKUSU_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if data_home is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", data_home)
    assert _home() == str(default_home().absolute())
    monkeypatch.setenv("TAKUSU_HOME", "~/elsewhere/./h")
    assert _home() == str(default_home().absolute())


# --- the thin client's JSON --------------------------------------------------------------

JSON_CASES = [
    {"v": 1, "op": "cli", "args": {"argv": ["get", "銀行/Bank"], "cwd": "/tmp", "env": {}}},
    {
        "ok": False,
        "error": {"type": "NotFound", "message": 'no "x"\\\n\t\x01\x7f\u202e', "hint": None},
    },
    [0, -1, 2**53, True, False, None, "", [], {}, [[{"z": 1, "a": [2]}]]],
    "just a string",
    7,
]


@pytest.mark.parametrize("value", JSON_CASES)
def test_the_thin_clients_json_is_the_strict_encodings(value: Any, monkeypatch) -> None:
    """lightjson (CPython's C JSON, driven without importing `json`) writes the very bytes
    vault.encoding.dumps writes, and reads them back; so does its fallback (a Python
    without `_json`)."""
    from vault.agent import lightjson
    from vault.encoding import dumps, loads

    assert lightjson.dumps(value) == dumps(value)
    assert lightjson.loads(dumps(value)) == value == loads(dumps(value))
    monkeypatch.setattr(lightjson, "_encode", None)
    monkeypatch.setattr(lightjson, "_scan", None)
    assert lightjson.dumps(value) == dumps(value)
    assert lightjson.loads(dumps(value)) == value


@pytest.mark.parametrize(
    "data", [b"", b"{", b'{"a":1} {}', b"NaN", b"[Infinity]", b'"\x01"', b"\xff", b"[1,]"]
)
def test_the_thin_clients_json_refuses_what_is_not_one_json_value(data: bytes) -> None:
    from vault.agent import lightjson

    with pytest.raises(ValueError):
        lightjson.loads(data)


def test_a_malformed_reply_reaches_the_thin_client_as_a_protocol_error() -> None:
    """A reply the light decoder refuses is a ProtocolError (one line), not a traceback."""
    import socket as socketmod

    left, right = socketmod.socketpair()
    with left, right:
        right.sendall(struct.pack(">I", 3) + b"{x}")
        with pytest.raises(protocol.ProtocolError, match="not valid JSON"):
            protocol.receive(left, light=True)


def test_a_command_run_in_the_agent_leaves_its_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent runs each command with the caller's variables (only those takusu reads,
    never a passphrase) and then puts its own environment back exactly, whatever the
    command set, changed or removed meanwhile."""
    from cli_commands.agentcli import _environment

    monkeypatch.setenv("TAKUSU_VAULT", "the agent's own")
    monkeypatch.setenv("TAKUSU_PASSPHRASE", "never seen by a command")
    monkeypatch.setenv("KEPT", "kept")
    monkeypatch.setenv("GONE", "removed by the command")
    monkeypatch.delenv("TZ", raising=False)
    before = dict(os.environ)
    caller = {"TAKUSU_VAULT": "acme", "TZ": "Asia/Tokyo", "SOME_TOKEN": "not passed", "LANG": 1}
    with _environment(caller):
        assert os.environ["TAKUSU_VAULT"] == "acme" and os.environ["TZ"] == "Asia/Tokyo"
        assert "TAKUSU_PASSPHRASE" not in os.environ and "SOME_TOKEN" not in os.environ
        assert os.environ["KEPT"] == "kept" and "LANG" not in os.environ
        os.environ["NEW"] = "set by the command"
        os.environ["KEPT"] = "changed by the command"
        del os.environ["GONE"]
    assert dict(os.environ) == before
