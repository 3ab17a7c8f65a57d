"""The agent process: `python -P -m vault.agent --home H --handler MOD:FN --idle S --max S`.

It hardens itself (umask 077, no core dumps, not dumpable), reads the private identity
from stdin (a pipe from `launch.start`), loads the handler named on its argv and serves
until it stops. Its exit codes for a failed start are in `launch.START_FAILURES`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import resource
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from .. import i18n
from ..errors import TakusuError
from ..fsutil import read_all
from .launch import EXIT_BAD_IDENTITY, EXIT_HANDLER, EXIT_REFUSED

MAX_IDENTITY = 64 << 10
PR_SET_DUMPABLE = 4


def harden() -> None:
    """Private files, no core dump, and (Linux) no ptrace or /proc reading by the same user."""
    os.umask(0o077)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):  # best effort: the core limit already holds
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def read_identity() -> bytes:
    """The private identity bytes from stdin; stdin is /dev/null afterwards."""
    data = read_all(0, MAX_IDENTITY + 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return data


def load_handler(spec: str) -> Any:
    """The callable named `package.module:function`."""
    module, _colon, name = spec.partition(":")
    handler = getattr(importlib.import_module(module), name)
    if not callable(handler):
        raise TypeError(spec)
    return handler


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vault.agent")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--idle", required=True, type=float, help="seconds")
    parser.add_argument("--max", required=True, type=float, help="seconds")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    harden()
    i18n.use(i18n.language())  # its own replies in the language of whoever unlocked it
    options = parse(argv)
    home = options.home.absolute()
    os.chdir("/")  # hold no folder busy
    secret = read_identity()
    if not secret or len(secret) > MAX_IDENTITY:
        return EXIT_BAD_IDENTITY
    try:
        handler = load_handler(options.handler)
    except Exception:  # noqa: BLE001 - stderr is /dev/null; the exit code says it
        return EXIT_HANDLER
    from .server import serve  # after the handler: it may import the heavy parts anyway

    gc.disable()  # the loop collects after each answer instead, off the caller's time

    try:
        serve(
            home,
            secret,
            handler,
            idle=timedelta(seconds=options.idle),
            max_age=timedelta(seconds=options.max),
            tick=options.tick,
        )
    except TakusuError:
        return EXIT_REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
