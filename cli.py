"""takusu's command line (`bin/takusu`, installed as the `takusu` command, calls `main`).

A command goes to this home's agent when one runs (`takusu unlock`): the agent holds the
unlocked identity and runs the command with this terminal's stdin, stdout and stderr, so
no passphrase is asked and nothing heavy is imported here. Otherwise it runs in this
process (`cli_commands/root.py`: the click group and the error-to-exit-code map; the
commands are in `cli_commands/`, one module per part of the job).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` is not on the way of a command the agent answers
if TYPE_CHECKING:
    from typing import Any, NoReturn


def main(argv: list[str] | None = None, *, leave_at_once: bool = False) -> None:
    """Console entry point: through the agent if one runs, else in this process.

    `leave_at_once` (the launcher, bin/takusu): when the command is done, the process
    waits for its threads, runs its exit handlers, flushes stdout and stderr, and ends,
    without the rest of Python's finalization: clearing every module and collecting what
    is left, which after a one-shot command at 10,000 items is hundreds of thousands of
    objects (35 ms of a `get`, 64 of a `list`) and after one the agent answered 2.5 ms
    of 25. Tests and scripts that call `main` keep the ordinary exit (SystemExit)."""
    args = list(sys.argv[1:] if argv is None else argv)
    from cli_commands.forward import forward

    code = forward(args)
    if code is None:
        from cli_commands.root import run

        try:
            run(args)  # (it ends in SystemExit)
        except SystemExit as exc:
            if not leave_at_once:
                raise
            code = _exit_code(exc.code)
    if leave_at_once:
        _leave(code or 0)
    sys.exit(code)


def _exit_code(code: object) -> int:
    """The status Python's own exit gives for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _leave(code: int) -> NoReturn:
    """What of Python's exit matters, then `os._exit`: the threads still running are waited
    for and the exit handlers run (as Python does first), stdout and stderr flushed."""
    import atexit
    import os

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()  # noqa: SLF001 - what the interpreter's own exit calls
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:  # (no such descriptor: as Python's exit, skipped)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away: Python's own exit says 120
            code = 120
    os._exit(code & 0xFF)  # (the status the system keeps of any int, as `exit` gives it)


def __getattr__(name: str) -> Any:
    """`cli.cli`, the click group, loaded on first use (it imports click)."""
    if name == "cli":
        from cli_commands.root import cli

        return cli
    raise AttributeError(name)


if __name__ == "__main__":  # pragma: no cover
    main()
