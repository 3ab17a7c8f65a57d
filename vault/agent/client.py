"""The thin client: ask this home's agent for something, and get the answer or the error.

Importing and using this module loads only the standard library and the light parts of
`vault` (errors, clock, encoding, i18n) — never `cryptography`, `keyring`, `pyotp` or `click`
— so a command answered by the agent costs an interpreter start and one round trip.
"""

from __future__ import annotations

import _socket  # not `socket`: it imports `enum` and `selectors`, which the client needs not
import os
import sys
import time

from .. import errors as _errors
from .. import i18n
from ..errors import EXIT_USER, IntegrityError, TakusuError
from ..i18n import N_, _
from . import errors as _agent_errors
from . import paths, protocol
from .errors import AgentError, AgentNotRunning, AgentStopped, AgentVersionMismatch

TYPE_CHECKING = False  # no `typing`, `pathlib` or `datetime` on the way of a command
if TYPE_CHECKING:
    from typing import Any

    from .paths import StrPath
    from .status import Status

DEFAULT_TIMEOUT = 30.0
STOPPED = N_("the agent stopped while answering; nothing was returned")


# --- connecting ------------------------------------------------------------------------------


def peer_credentials(sock: _socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket (SO_PEERCRED).

    On the server side that is the connecting process; on the client side the process that
    listens (the agent). AgentError where the system cannot say.
    """
    option = getattr(_socket, "SO_PEERCRED", None)
    if option is None:
        raise AgentError(
            _("this system cannot tell who is at the other end of a socket (no SO_PEERCRED)"),
            hint=_("the agent is not available here; commands ask for the passphrase instead"),
        )
    raw = sock.getsockopt(_socket.SOL_SOCKET, option, 12)  # struct ucred: pid_t, uid_t, gid_t
    if len(raw) != 12:
        raise AgentError(
            _("this system says who is at the other end of a socket in a form takusu does not know")
        )
    pid = _int(raw[0:4], signed=True)
    return pid, _int(raw[4:8], signed=False), _int(raw[8:12], signed=False)


def _int(raw: bytes, *, signed: bool) -> int:
    """A 32-bit C integer in this machine's byte order (without importing `struct`)."""
    return int.from_bytes(raw, sys.byteorder, signed=signed)


def _remove_stale(path: str, seen: os.stat_result) -> None:
    """Remove the socket a dead agent left, unless it was replaced since we looked."""
    try:
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino):
            os.unlink(path)
    except OSError:
        pass


def _connect_once(sock: _socket.socket, path: str, deadline: float) -> None:
    # A full listen backlog makes a non-blocking Unix connect fail with EAGAIN at once
    # rather than wait: retry until the deadline.
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError from None
            time.sleep(0.005)


def connect(home: StrPath, timeout: float = DEFAULT_TIMEOUT) -> _socket.socket | None:
    """A socket connected to this home's agent, or None if no agent listens.

    A stale socket (its agent was killed) is removed. IntegrityError for an unsafe folder
    or socket, or an agent that runs as another user.
    """
    path = paths.socket_file(home)
    if not paths.check_folder(os.path.dirname(path)):
        return None
    seen = paths.check_socket(path)
    if seen is None:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        _connect_once(sock, path, time.monotonic() + timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        if isinstance(exc, ConnectionRefusedError):
            _remove_stale(path, seen)
        return None
    except TimeoutError:
        sock.close()
        raise AgentError(
            _("the agent did not accept a connection within {seconds} s").format(
                seconds=f"{timeout:g}"
            ),
            hint=_("'takusu lock' ends it; then 'takusu unlock' again"),
        ) from None
    except OSError as exc:
        sock.close()
        raise AgentError(
            _("cannot reach the agent at {path}: {reason}").format(path=path, reason=exc.strerror)
        ) from None
    try:
        _check_agent_user(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock


def _check_agent_user(sock: _socket.socket, path: str) -> None:
    _pid, uid, _gid = peer_credentials(sock)
    if uid != os.geteuid():
        raise IntegrityError(
            _(
                "the process listening on {path} runs as another user (uid {uid}); refusing it"
            ).format(path=path, uid=uid),
            hint=_("check who started it; do not send it anything"),
        )


# --- one exchange ----------------------------------------------------------------------------


def _exchange(
    sock: _socket.socket,
    message: dict[str, Any],
    timeout: float | None,
    fds: list[int] | None = None,
) -> Any:
    try:
        try:
            protocol.send(sock, message, light=True)
            if fds:  # as socket.send_fds does it
                ints = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
                rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, ints)
                sock.sendmsg([protocol.FDS_MARK], [rights])
        except (BrokenPipeError, ConnectionResetError):
            pass  # an agent that has answered already (a refusal) may have closed: read it
        sock.settimeout(timeout)
        return protocol.receive(sock, light=True)
    except (protocol.Closed, ConnectionResetError, BrokenPipeError):
        raise AgentStopped(i18n._(STOPPED)) from None
    except TimeoutError:
        raise AgentError(
            _("the agent did not answer within {seconds} s; nothing was returned").format(
                seconds=f"{timeout or 0:g}"
            ),
            hint=_("'takusu lock' ends it; then 'takusu unlock' again"),
        ) from None
    except OSError as exc:
        raise AgentError(
            _("talking to the agent failed: {reason}; nothing was returned").format(
                reason=exc.strerror
            )
        ) from None


_KNOWN: dict[str, type[TakusuError]] = {
    name: obj
    for module in (_errors, _agent_errors)
    for name, obj in vars(module).items()
    if isinstance(obj, type) and issubclass(obj, TakusuError)
}


def rebuild(fields: Any) -> TakusuError:
    """The error an agent reported, as the same TakusuError class where takusu knows it (so
    `except NotFound` works the same with and without the agent), with the same message,
    hint and exit code; an AgentError of that `kind` otherwise."""
    if not isinstance(fields, dict) or not isinstance(fields.get("message"), str):
        return protocol.ProtocolError(_("the agent's error reply is malformed"))
    kind = fields["type"] if isinstance(fields.get("type"), str) else "AgentError"
    message = fields["message"]
    hint = fields.get("hint") if isinstance(fields.get("hint"), str) else None
    code = fields.get("exit_code")
    exit_code = code if type(code) is int and 0 < code < 256 else EXIT_USER
    cls = _KNOWN.get(kind)
    if cls is None or issubclass(cls, AgentError):
        return (cls if cls is not None else AgentError)(
            message, hint, exit_code=exit_code, kind=kind
        )
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.message, exc.hint = message, hint
    if isinstance(exc, IntegrityError):
        exc.reason, exc.log, exc.seq = message, None, None
    exc.exit_code = exit_code
    return exc


def _result(reply: Any) -> Any:
    """The result of a reply, or raise the error it carries."""
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise protocol.ProtocolError(_("the agent's reply is malformed"))
    error = reply.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    if not reply["ok"] and kind == protocol.VERSION_MISMATCH:
        assert isinstance(error, dict)
        message = error.get("message")
        raise AgentVersionMismatch(
            str(message) if message else _("the agent speaks another protocol")
        )
    if reply.get("v") != protocol.PROTOCOL:
        raise AgentVersionMismatch(
            _("the agent speaks protocol {theirs}, this takusu {ours}").format(
                theirs=repr(reply.get("v")), ours=protocol.PROTOCOL
            )
        )
    if reply["ok"]:
        return reply.get("result")
    raise rebuild(error)


def call(
    home: StrPath,
    op: str,
    args: dict[str, Any] | None = None,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    fds: list[int] | None = None,
) -> Any:
    """Ask the agent to do `op` with `args` (and, for an op that runs a command at this
    terminal, the file descriptors `fds` passed along); its JSON result.

    Raises the agent's TakusuError (same class, message, hint, exit code),
    AgentNotRunning if no agent runs, AgentVersionMismatch for an agent of another
    protocol, and AgentError if the agent stops or times out before it answers.
    """
    sock = connect(home, DEFAULT_TIMEOUT if timeout is None else timeout)
    if sock is None:
        raise AgentNotRunning(_("no agent is running for this TAKUSU_HOME"))
    try:
        return _result(_exchange(sock, protocol.request(op, args), timeout, fds))
    finally:
        sock.close()


def running(home: StrPath, *, timeout: float = 5.0) -> Status | None:
    """The running agent's status, or None if none runs (a stale socket is removed).

    Asking does not re-arm its idle timer. AgentVersionMismatch for an agent of another
    protocol version (replace it: `launch.start` does).
    """
    for attempt in range(2):
        try:
            result = call(home, "status", timeout=timeout)
            break
        except AgentNotRunning:
            return None
        except AgentStopped:
            if attempt:  # it was dying: the second look finds its socket stale (or a new one)
                raise
            time.sleep(0.05)
    from .status import Status

    return Status.from_result(result, paths.socket_path(home))


def _wait_gone(home: StrPath, timeout: float) -> bool:
    """True once no agent listens for `home` (a stale socket is removed), False at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        sock = connect(home, timeout=1.0)
        if sock is None:
            return True
        sock.close()
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def stop(home: StrPath, *, timeout: float = 5.0) -> bool:
    """Lock the agent of this home; True if one was running, False if none was.

    An agent of another protocol version is sent SIGTERM (its pid from SO_PEERCRED), and
    SIGKILL if it has not gone after `timeout`. When this returns, the socket is gone.
    """
    path = paths.socket_file(home)
    sock = connect(home, timeout)
    if sock is None:
        return False
    try:
        pid = peer_credentials(sock)[0]
        try:
            _result(_exchange(sock, protocol.request("lock"), timeout))
        except AgentVersionMismatch:
            _signal(pid, "SIGTERM")
        except (AgentStopped, AgentNotRunning):
            pass  # it died, or had locked itself, as we asked: just as good
    finally:
        sock.close()
    if not _wait_gone(home, timeout):
        _signal(pid, "SIGKILL")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return True


def _signal(pid: int, name: str) -> None:
    import signal  # only on this rare path

    try:
        os.kill(pid, getattr(signal, name))
    except ProcessLookupError:
        pass
