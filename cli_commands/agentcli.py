"""What the agent does for a command: run it here, with the caller's terminal.

The agent process (`python -m vault.agent --handler cli_commands.agentcli:handle`) holds
the unlocked identity; `handle` runs one command with it exactly as `takusu` would in the
caller's process: the caller's stdin, stdout and stderr (passed over the socket), working
folder and environment, the same checks, receipts, prompts and exit code. Nothing is left
behind between commands: streams, folder and environment are put back, and each command
builds its own Machine and session.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vault import i18n
from vault.errors import UsageError
from vault.i18n import _

if TYPE_CHECKING:
    from vault.identity import Identity


def handle(op: str, args: dict[str, Any], identity: Identity) -> Any:
    """The agent's operations: `cli` (run a command), `reveal` (one value, receipt first,
    for `takusu run`), `titles` (for completion: never a receipt)."""
    if op == "cli":
        return {"exit": _run_command(args, identity)}
    if op == "reveal":
        return _reveal(args, identity)
    if op == "titles":
        return _titles(args, identity)
    raise UsageError(_("the unlocked takusu cannot do {operation}").format(operation=repr(op)))


def _check_version(args: dict[str, Any]) -> None:
    from vault import __version__
    from vault.agent.errors import AgentVersionMismatch

    if args.get("version") != __version__:
        raise AgentVersionMismatch(
            _("takusu {version} is unlocked, and this command is takusu {other}").format(
                version=__version__, other=repr(args.get("version"))
            )
        )


def _run_command(args: dict[str, Any], identity: Identity) -> int:
    argv, cwd, env, fds = args.get("argv"), args.get("cwd"), args.get("env"), args.get("_fds")
    if isinstance(env, dict):  # the caller's language, for the errors before the command runs
        i18n.use(i18n.language({k: v for k, v in env.items() if isinstance(v, str)}))
    _check_version(args)
    if not (
        isinstance(argv, list)
        and all(isinstance(a, str) for a in argv)
        and isinstance(cwd, str)
        and isinstance(env, dict)
        and isinstance(fds, list)
        and len(fds) == 3
    ):
        raise UsageError(_("the unlocked takusu received a malformed command"))
    from . import common
    from .root import run

    with _terminal(fds), _environment(env), _folder(cwd):
        common.PRESET_IDENTITY[:] = [identity]
        try:
            run(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        finally:
            common.PRESET_IDENTITY.clear()
    return 0


@contextlib.contextmanager
def _terminal(fds: list[int]) -> Iterator[None]:
    """The caller's stdin, stdout and stderr as this process's, for the command's time: as
    fds 0-2 (for children) and as fresh Python streams (no buffered data carried over)."""
    saved_fds = [os.dup(n) for n in (0, 1, 2)]
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    try:
        for n, fd in enumerate(fds):
            os.dup2(fd, n)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for n, fd in enumerate(saved_fds):
            os.dup2(fd, n)
            os.close(fd)


@contextlib.contextmanager
def _environment(env: dict[str, Any]) -> Iterator[None]:
    from .forward import PASSED_ENV

    saved = dict(os.environ)
    try:
        for key in PASSED_ENV:
            os.environ.pop(key, None)
        os.environ.update({k: v for k, v in env.items() if k in PASSED_ENV and isinstance(v, str)})
        os.environ.pop("TAKUSU_PASSPHRASE", None)
        yield
    finally:
        # back to exactly what it was, touching only what differs (clearing and setting
        # every variable again was a few hundred microseconds of each command)
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


@contextlib.contextmanager
def _folder(cwd: str) -> Iterator[None]:
    saved = os.getcwd()
    try:
        os.chdir(cwd)
    except OSError:
        raise UsageError(
            _("the unlocked takusu cannot open the folder {folder}").format(folder=cwd)
        ) from None
    try:
        yield
    finally:
        os.chdir(saved)


def _machine(identity: Identity) -> Any:
    from vault.machine import Machine

    machine = Machine()
    machine._identity = identity  # noqa: SLF001 - the agent's one way to hand over its identity
    return machine


def _reveal(args: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """One value for `takusu run`: the receipt is written here before the value leaves."""
    _check_version(args)
    vault, title, field, reason = (args.get(k) for k in ("vault", "title", "field", "reason"))
    if not (isinstance(title, str) and isinstance(field, str)):
        raise UsageError(_("the unlocked takusu received a malformed request"))
    from vault.sharing import upkeep

    sess = _machine(identity).session(vault if isinstance(vault, str) else None)
    upkeep(sess)
    item_id = sess.find(title)
    value = sess.reveal(item_id, [field], reason if isinstance(reason, str) else None)[field]
    return {"value": value if isinstance(value, str) else str(value), "vault": sess.entry["name"]}


def _titles(args: dict[str, Any], identity: Identity) -> list[str]:
    """The titles this identity can read in a vault (from the encrypted index: no receipt)."""
    vault = args.get("vault")
    sess = _machine(identity).session(vault if isinstance(vault, str) else None)
    return sorted(sess.titles().values())
