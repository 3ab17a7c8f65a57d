"""The agent handler the agent tests load (`tests.agent_handler:handle`).

Its ops exercise every path of the server: results, each kind of error, a crash whose
text must not leak, a slow op to kill the agent in, and results the protocol cannot carry.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from vault.agent.protocol import MAX_FRAME
from vault.errors import BadSignature, NotFound, TakusuError

LEAK = "hunter2-do-not-leak"
PR_GET_DUMPABLE = 3


class CustomError(TakusuError):
    """An error class the client does not know, with an exit code of its own."""

    exit_code = 42


def handle(op: str, args: dict[str, Any], identity: Any) -> Any:
    if op == "echo":
        return args
    if op == "whoami":
        return identity.card.name
    if op == "home":
        return os.environ.get("TAKUSU_HOME")
    if op == "fail_user":
        raise NotFound(f"no item named {args.get('title')!r}", hint="'takusu list' shows them")
    if op == "fail_integrity":
        raise BadSignature("the event does not verify", log="ab" * 16, seq=7)
    if op == "fail_custom":
        raise CustomError("a custom failure", hint="a custom hint")
    if op == "crash":
        raise ValueError(f"the password is {LEAK}")
    if op == "slow":
        Path(args["marker"]).write_text("inside")
        time.sleep(float(args["seconds"]))
        return "done"
    if op == "hardening":  # what the agent process says about itself, from inside
        import ctypes
        import resource

        return {
            "dumpable": ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
            "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
        }
    if op == "float":
        return {"x": 1.5}
    if op == "big":
        return "x" * (MAX_FRAME + 10)
    raise NotFound(f"unknown op {op!r}")
