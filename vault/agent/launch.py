"""Starting the agent: a detached process that receives the identity through a pipe.

`start` always gives a fresh agent with the timers asked for: an agent already running
for this home is locked first (its timers and code may be old; replacing it is as cheap
as the unlock the caller just did). The private identity goes to the child through its
stdin pipe — never argv, environment or a file — and lives only in the agent's memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from .. import fsutil, i18n
from ..errors import UsageError
from ..i18n import N_, _
from . import DEFAULT_IDLE, DEFAULT_MAX, client, paths, watch
from .errors import AgentError
from .status import Status

if TYPE_CHECKING:
    from ..identity import Identity

# The handler the agent loads; the lead points this at "vault.agentops:handle".
DEFAULT_HANDLER = "vault.agent.demo_handler:handle"
START_TIMEOUT = 15.0
# the agent's own environment: nothing secret, nothing that changes what Python loads
# except the PYTHONPATH set below (TAKUSU_PASSPHRASE is never passed on)
ENV_KEEP = (
    "PATH", "HOME", "TAKUSU_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", "TZ",
    "XDG_RUNTIME_DIR",
)  # fmt: skip
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

# exit codes of `python -m vault.agent` that mean it could not start, and what they mean
EXIT_BAD_IDENTITY = 10
EXIT_HANDLER = 11
EXIT_REFUSED = 12
START_FAILURES = {
    EXIT_BAD_IDENTITY: N_("the agent could not read the identity it was handed"),
    EXIT_HANDLER: N_("the agent could not load its operations"),
    EXIT_REFUSED: N_("the agent refused to start"),
}

_spawned: set[int] = set()


def start(
    home: Path,
    identity: Identity,
    idle: timedelta = DEFAULT_IDLE,
    max_age: timedelta = DEFAULT_MAX,
    *,
    handler: str = DEFAULT_HANDLER,
    tick: float = 1.0,
    timeout: float = START_TIMEOUT,
) -> Status:
    """Start this home's agent holding `identity`; its status once it answers.

    An agent already running for this home is replaced. UsageError for a non-positive
    duration or a malformed handler path; IntegrityError for an unsafe socket folder or
    an identity file that holds another identity; AgentError if the agent does not come up.
    """
    home = Path(home).absolute()
    _check_arguments(idle, max_age, handler)
    watch.bind(home, identity.id)
    path = paths.socket_path(home)
    paths.ensure_folder(path.parent)
    _reap()
    with fsutil.locked(paths.lock_path(home)):
        client.stop(home)
        pid = _spawn(home, identity.private_bytes(), handler, idle, max_age, tick)
        return _wait_ready(home, pid, timeout)


def _check_arguments(idle: timedelta, max_age: timedelta, handler: str) -> None:
    if idle <= timedelta(0) or max_age <= timedelta(0):
        raise UsageError(_("the idle and maximum times must be positive"))
    if not _HANDLER.fullmatch(handler):
        raise UsageError(
            _("the agent handler must look like 'package.module:function': {handler}").format(
                handler=handler
            )
        )
    try:
        found = find_spec(handler.split(":")[0])
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise UsageError(
            _("the agent handler's module cannot be found: {handler}").format(handler=handler)
        )


def _environment(home: Path) -> dict[str, str]:
    env = {key: os.environ[key] for key in ENV_KEEP if key in os.environ}
    env["TAKUSU_HOME"] = str(home)
    # The agent runs the same takusu as this process (-P keeps the working directory off
    # sys.path, so a `vault/` folder where the user stands cannot replace it).
    root = str(Path(__file__).resolve().parent.parent.parent)
    inherited = os.environ.get("PYTHONPATH")
    env["PYTHONPATH"] = root + (os.pathsep + inherited if inherited else "")
    return env


def _argv(home: Path, handler: str, idle: timedelta, max_age: timedelta, tick: float) -> list[str]:
    return [
        sys.executable, "-P", "-m", "vault.agent",
        "--home", str(home),
        "--handler", handler,
        "--idle", repr(idle.total_seconds()),
        "--max", repr(max_age.total_seconds()),
        "--tick", repr(float(tick)),
    ]  # fmt: skip


def _spawn(
    home: Path, secret: bytes, handler: str, idle: timedelta, max_age: timedelta, tick: float
) -> int:
    """The pid of the detached agent (own session, stdin a pipe, stdout/stderr /dev/null),
    after the identity has been written into its pipe."""
    read_end, write_end = os.pipe()  # both close-on-exec; the child gets read_end as fd 0
    try:
        pid = os.posix_spawn(
            sys.executable,
            _argv(home, handler, idle, max_age, tick),
            _environment(home),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
            setsigdef=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP),
            setsigmask=(),
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    _spawned.add(pid)
    try:
        with contextlib.suppress(BrokenPipeError):  # it died first: _wait_ready says why
            _write_all(write_end, secret)
    finally:
        os.close(write_end)
    return pid


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _exited(pid: int) -> int | None:
    """The exit code of our child `pid` if it has exited (it is then reaped), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    if not done:
        return None
    _spawned.discard(pid)
    return os.waitstatus_to_exitcode(status)


def _wait_ready(home: Path, pid: int, timeout: float) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        code = _exited(pid)
        if code is not None:
            failure = START_FAILURES.get(code)
            raise AgentError(
                i18n._(failure)
                if failure
                else _("the agent stopped as it started (exit code {code})").format(code=code),
                hint=_("run 'takusu doctor'; commands still work without the agent"),
            )
        status = client.running(home)
        if status is not None and status.pid == pid:
            return status
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise AgentError(
                _("the agent did not answer within {seconds} s of its start").format(
                    seconds=f"{timeout:g}"
                )
            )
        time.sleep(0.01)


def _reap() -> None:
    """Collect agents this process started that have exited since (no zombies kept)."""
    for pid in list(_spawned):
        _exited(pid)
