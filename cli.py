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
    from typing import Any


def main(argv: list[str] | None = None, *, leave_at_once: bool = False) -> None:
    """Console entry point: through the agent if one runs, else in this process.

    `leave_at_once` (the launcher, bin/takusu): when the agent ran the command, this
    process ends without Python's finalization, which clears every module and collects
    what is left, ~2.5 ms; a command the agent answers costs about 25 ms in all. Nothing
    here needs it: the agent wrote to the terminal itself, the socket is closed, and this
    process's own stdout and stderr are flushed first."""
    args = list(sys.argv[1:] if argv is None else argv)
    from cli_commands.forward import forward

    code = forward(args)
    if code is not None:
        if leave_at_once:
            _leave(code)
        sys.exit(code)
    from cli_commands.root import run

    run(args)


def _leave(code: int) -> None:
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away: Python's own exit says 120
            code = code or 120
    os._exit(code)


def __getattr__(name: str) -> Any:
    """`cli.cli`, the click group, loaded on first use (it imports click)."""
    if name == "cli":
        from cli_commands.root import cli

        return cli
    raise AttributeError(name)


if __name__ == "__main__":  # pragma: no cover
    main()
