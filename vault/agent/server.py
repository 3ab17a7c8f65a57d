"""The agent's loop: accept, check the peer, answer one request, watch the clock.

One request at a time, on one thread: the handler (the lead's operations: verify the vault,
write a receipt, return a secret) never runs twice at once, so it needs no locking, and
a request is short. A peer that connects and sends nothing holds the agent for at most
`io_timeout`.

The agent stops (and removes its socket) at the idle deadline, at the maximum deadline,
on `lock`, on SIGTERM/SIGINT, and when the identity file changes or disappears. Every
deadline is read from the `clock` seam; `tick` bounds how long a change of the identity
file or of a fake clock can go unnoticed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import select
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, i18n
from ..clock import Clock, stamp, system_clock
from ..errors import TakusuError
from ..i18n import N_, _
from . import DEFAULT_IDLE, DEFAULT_MAX, paths, protocol, watch
from .client import peer_credentials
from .errors import AgentError, AgentNotRunning, PeerRefused

if TYPE_CHECKING:
    from ..identity import Identity

Handler = Callable[[str, dict[str, Any], "Identity"], Any]

# why the agent stopped: serve() returns one of these
LOCKED, IDLE, MAX, SIGNAL, IDENTITY_CHANGED = "lock", "idle", "max", "signal", "identity-changed"
BUILTIN = ("status", "lock")
MAX_OP = 64


def check_peer(uid: int, own_uid: int) -> None:
    """PeerRefused unless the connecting process runs as the agent's own user."""
    if uid != own_uid:
        raise PeerRefused(
            _("the agent serves only the user who unlocked it"),
            hint=_("run takusu as your own user"),
        )


@dataclass
class Timers:
    """The two deadlines: idle (re-armed by real use) and maximum (fixed at start)."""

    started: datetime
    idle: timedelta
    max_age: timedelta
    last_use: datetime

    @property
    def idle_deadline(self) -> datetime:
        return self.last_use + self.idle

    @property
    def max_deadline(self) -> datetime:
        return self.started + self.max_age

    def expired(self, now: datetime) -> str | None:
        """MAX or IDLE once that deadline is reached, else None."""
        if now >= self.max_deadline:
            return MAX
        if now >= self.idle_deadline:
            return IDLE
        return None

    def seconds_left(self, now: datetime) -> float:
        return (min(self.idle_deadline, self.max_deadline) - now).total_seconds()


class Agent:
    """One listening socket, one identity, one handler. Use through `serve`."""

    def __init__(
        self,
        home: Path,
        identity: Identity,
        handler: Handler,
        listener: socket.socket,
        socket_path: Path,
        timers: Timers,
        key_file: watch.Snapshot,
        *,
        clock: Clock,
        tick: float,
        io_timeout: float,
    ) -> None:
        self.home = home
        self.identity = identity
        self.handler = handler
        self.listener = listener
        self.socket_path = socket_path
        self.socket_id = _inode(socket_path)
        self.timers = timers
        self.key_file = key_file
        self.clock = clock
        self.tick = tick
        self.io_timeout = io_timeout
        self.reason: str | None = None
        # the agent's own replies are in the language it was started in; a command it runs
        # for a caller picks the caller's (cli_commands/root.py), and the next request
        # starts from this one again
        self.lang = i18n.current()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> str:
        """Serve until a reason to stop; that reason (LOCKED, IDLE, MAX, …)."""
        while True:
            reason = self.why_stop()
            if reason:
                return reason
            wait = max(0.0, min(self.tick, self.timers.seconds_left(self.clock())))
            try:
                ready, _w, _x = select.select([self.listener.fileno(), self._wake_r], [], [], wait)
            except InterruptedError:
                continue
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 64)
            if self.listener.fileno() in ready:
                self._accept_one()

    def why_stop(self) -> str | None:
        """The reason to stop now, if any: lock/signal already asked, a deadline, the key file."""
        if self.reason:
            return self.reason
        if watch.snapshot(self.home) != self.key_file:
            self.reason = IDENTITY_CHANGED
        else:
            self.reason = self.timers.expired(self.clock())
        return self.reason

    def wake(self, reason: str) -> None:
        """Ask the loop to stop (safe from a signal handler or another thread)."""
        self.reason = self.reason or reason
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _accept_one(self) -> None:
        try:
            conn, _address = self.listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        with conn:
            conn.settimeout(self.io_timeout)
            with contextlib.suppress(OSError):  # the peer left: nothing to tell it
                self._answer(conn)
        if not gc.isenabled():
            # The agent process (`__main__`) turns automatic collection off: the caller has
            # its answer, so collect what this request left behind now, then set what
            # survives aside (gc.freeze), so no later request pays for scanning the
            # verified state and index kept in memory between commands.
            gc.collect()
            gc.freeze()

    def _answer(self, conn: socket.socket) -> None:
        i18n.use(self.lang)
        _pid, uid, _gid = peer_credentials(conn)
        try:
            message = protocol.receive(conn)
        except protocol.Closed:
            return
        except protocol.ProtocolError as exc:
            message = exc
        # Read the request even from a refused peer: closing with unread data would reset
        # the connection, and the peer would never see why it was refused.
        fds = self._passed_fds(conn, message)
        try:
            try:
                check_peer(uid, os.geteuid())
            except PeerRefused as exc:
                protocol.send(conn, protocol.error_from(exc))  # nothing it sent is acted on
                return
            if isinstance(message, protocol.ProtocolError):
                protocol.send(conn, protocol.error_from(message))
                return
            if fds is not None:
                message["args"] = {**message.get("args", {}), "_fds": fds}
            conn.sendall(self._encode(self.dispatch(message)))
        finally:
            for fd in fds or []:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _passed_fds(self, conn: socket.socket, message: Any) -> list[int] | None:
        """The file descriptors a command op sends after its request (None for other ops)."""
        if not isinstance(message, dict) or message.get("op") not in protocol.FD_OPS:
            return None
        try:
            _data, fds, _flags, _addr = socket.recv_fds(conn, 1, 3)
        except OSError:
            return []
        return list(fds)

    def _encode(self, reply: dict[str, Any]) -> bytes:
        try:
            return protocol.encode(reply)
        except protocol.ProtocolError:
            return protocol.encode(
                protocol.error("ResultTooLarge", _("the agent's answer is too large to send"))
            )
        except (TypeError, ValueError):  # e.g. a lone surrogate in a string
            return protocol.encode(_internal(None))

    # --- one request -------------------------------------------------------------------------

    def dispatch(self, message: Any) -> dict[str, Any]:
        """The reply to one decoded request."""
        if not isinstance(message, dict):
            return protocol.error_from(protocol.ProtocolError(_("a request must be a JSON object")))
        if message.get("v") != protocol.PROTOCOL:
            return protocol.version_mismatch(message.get("v"))
        op, args = message.get("op"), message.get("args", {})
        if not isinstance(op, str) or not 0 < len(op) <= MAX_OP or not isinstance(args, dict):
            return protocol.error_from(protocol.ProtocolError(_("a request needs an op and args")))
        reason = self.why_stop()
        if reason:
            return protocol.error_from(AgentNotRunning(_locked_itself(reason)))
        if op == "status":
            return protocol.ok(self.status())
        if op == "lock":
            self.close_listener()  # the socket is gone before the caller hears "locked"
            self.reason = LOCKED
            return protocol.ok({"locked": True})
        return self._handle(op, args)

    def _handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op in protocol.FD_OPS and not args.get("_fds"):
            return protocol.error(
                "AgentError", _("{op} needs the caller's terminal").format(op=repr(op))
            )
        try:
            result = self.handler(op, args, self.identity)
        except TakusuError as exc:
            reply = protocol.error_from(exc)
        except Exception:  # noqa: BLE001 - its text could hold a secret: say nothing of it
            reply = _internal(op)
        else:
            if protocol.jsonable(result):
                reply = protocol.ok(result)
            else:
                reply = protocol.error(
                    "InternalError",
                    _("the agent's answer to {op} is not plain JSON; nothing was returned").format(
                        op=repr(op)
                    ),
                )
        self.timers.last_use = self.clock()  # real use re-arms the idle timer; status does not
        return reply

    def status(self) -> dict[str, Any]:
        return {
            "name": self.identity.card.name,
            "id": self.identity.id,
            "pid": os.getpid(),
            "started": stamp(self.timers.started),
            "idle_deadline": stamp(self.timers.idle_deadline),
            "max_deadline": stamp(self.timers.max_deadline),
            "protocol": protocol.PROTOCOL,
            "version": __version__,
        }

    # --- the end -----------------------------------------------------------------------------

    def close_listener(self) -> None:
        """Remove our socket (not one a newer agent put there), then stop listening."""
        with contextlib.suppress(OSError):
            if _inode(self.socket_path) == self.socket_id:
                os.unlink(self.socket_path)
        self.listener.close()

    def close(self) -> None:
        self.close_listener()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _internal(op: str | None) -> dict[str, Any]:
    if op:
        message = _("the agent failed in {op}; nothing was returned").format(op=repr(op))
    else:
        message = _("the agent failed; nothing was returned")
    return protocol.error("InternalError", message)


_LOCKED_ITSELF = {
    IDLE: N_("the agent has locked itself (idle time reached)"),
    MAX: N_("the agent has locked itself (maximum time reached)"),
    LOCKED: N_("the agent has locked itself (locked)"),
    SIGNAL: N_("the agent has locked itself (stopped)"),
    IDENTITY_CHANGED: N_("the agent has locked itself (the identity file changed)"),
}


def _locked_itself(reason: str) -> str:
    sentence = _LOCKED_ITSELF.get(reason)
    if sentence is None:
        return _("the agent has locked itself ({reason})").format(reason=reason)
    return i18n._(sentence)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


# --- the listening socket ----------------------------------------------------------------------


def listen(path: Path, backlog: int = 64) -> socket.socket:
    """A socket listening at `path` (0600 in a checked 0700 folder).

    It is bound under a temporary name and renamed into place once it listens, so a
    client never sees a socket that refuses connections unless its agent is dead. An
    agent already answering there is AgentError; a stale socket is replaced.
    """
    paths.ensure_folder(path.parent)
    if paths.check_socket(path) is not None and _answers(path):
        raise AgentError(_("an agent is already running for this TAKUSU_HOME"))
    # shorter than the final name, so it fits wherever that fits
    tmp = path.with_name(f".{secrets.token_hex(4)}.tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)  # whatever the umask (the folder is private anyway)
        sock.listen(backlog)
        sock.setblocking(False)
        os.replace(tmp, path)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return sock


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


# --- the entry point ---------------------------------------------------------------------------


def serve(
    home: Path,
    identity_bytes: bytes,
    handler: Handler,
    *,
    idle: timedelta = DEFAULT_IDLE,
    max_age: timedelta = DEFAULT_MAX,
    clock: Clock = system_clock,
    tick: float = 1.0,
    io_timeout: float = 10.0,
) -> str:
    """Serve this home's agent until it stops; why it stopped (LOCKED, IDLE, MAX, SIGNAL,
    IDENTITY_CHANGED). Its socket is gone when this returns.

    `identity_bytes` is `Identity.private_bytes()`; the identity file of `home` must hold
    that identity. SIGTERM and SIGINT stop it when it runs on the main thread.
    """
    from ..identity import Identity  # the heavy import lives in the agent process only

    if not hasattr(socket, "SO_PEERCRED"):
        raise AgentError(_("the agent needs SO_PEERCRED to check who connects (Linux)"))
    home = Path(home).absolute()
    identity = Identity.from_private_bytes(identity_bytes)
    key_file = watch.bind(home, identity.id)
    now = clock()
    timers = Timers(started=now, idle=idle, max_age=max_age, last_use=now)
    path = paths.socket_path(home)
    listener = listen(path)
    agent = Agent(
        home, identity, handler, listener, path, timers, key_file,
        clock=clock, tick=tick, io_timeout=io_timeout,
    )  # fmt: skip
    restore = _install_signals(agent)
    try:
        return agent.run()
    finally:
        agent.close()
        restore()


def _install_signals(agent: Agent) -> Callable[[], None]:
    """Make SIGTERM/SIGINT stop the loop (main thread only); a function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _sig, _frame: agent.wake(SIGNAL))

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
