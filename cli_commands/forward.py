"""The thin path: hand a command to this home's agent, with this terminal.

When an agent runs (`takusu unlock`), a command is sent to it with its arguments, the
working folder, the environment variables takusu reads, and this process's stdin, stdout
and stderr (passed over the Unix socket): the agent runs it exactly as this process
would — same checks, receipts, output, prompts and exit code — with the identity it holds,
so no passphrase is asked. Only the standard library and the light parts of `vault` are
imported here: no click, no `cryptography`, no `keyring`, no `pyotp`.
"""

from __future__ import annotations

import os
import sys

from vault import i18n
from vault.i18n import _

# What the command may read from the environment; nothing else reaches the agent.
PASSED_ENV = (
    "TAKUSU_VAULT",
    "TAKUSU_LANG",
    "TAKUSU_CLIP_SECONDS",
    "TAKUSU_CLIPBOARD_TOOL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_MESSAGES",
    "TZ",
    "TERM",
    "COLUMNS",
    "NO_COLOR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_RUNTIME_DIR",
    "HOME",
    "PATH",
)
# Commands that run here even when an agent runs: they start, stop or ask about it, run a
# child of this terminal, complete words, or need no identity at all.
LOCAL = frozenset({"unlock", "lock", "status", "run", "completion", "demo", "init"})


def _command(argv: list[str]) -> str | None:
    """The command word of `takusu [--vault X] [--debug] COMMAND …` (None: help/version)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        if word == "--vault":
            skip = True
            continue
        if word.startswith("--vault=") or word == "--debug":
            continue
        if word.startswith("-"):
            return None  # --help, --version, an unknown option: click answers that here
        return word
    return None


def forward(argv: list[str]) -> int | None:
    """The command's exit code when the agent ran it; None when it should run here (no
    agent, a local command, or an agent of another version, which is then stopped)."""
    if "_TAKUSU_COMPLETE" in os.environ or _command(argv) in LOCAL | {None}:
        return None
    if "--help" in argv or "-h" in argv:
        return None
    from vault.agent import client
    from vault.agent.errors import AgentNotRunning, AgentVersionMismatch
    from vault.errors import TakusuError

    home = _home()
    try:
        if not os.path.exists(client.paths.socket_file(home)):
            return None  # the common case without an agent: one stat, nothing imported
    except TakusuError:
        return None
    i18n.use(i18n.language())  # the client's own errors and hints, in the reader's language
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    args = {"argv": argv, "cwd": os.getcwd(), "env": env, "version": _version()}
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        result = client.call(home, "cli", args, timeout=None, fds=[0, 1, 2])
    except AgentNotRunning:
        return None
    except AgentVersionMismatch:
        client.stop(home)
        _say(
            _("hint: {message}").format(
                message=_(
                    "takusu was unlocked by another version of takusu and is now locked; "
                    "run 'takusu unlock' again"
                )
            )
        )
        return None
    except TakusuError as exc:
        return _fail(exc)
    code = result.get("exit") if isinstance(result, dict) else None
    return code if type(code) is int else 1


def _home() -> str:
    """This TAKUSU_HOME, as `vault.home.default_home` finds it, without importing what
    that needs (`platformdirs` alone costs a command ~60 ms): on Linux the data folder of
    the XDG rules, which tests/test_agent.py checks against platformdirs."""
    from vault.agent.paths import absolute

    env = os.environ.get("TAKUSU_HOME")
    if env:
        return absolute(os.path.expanduser(env))
    if sys.platform.startswith("linux"):
        data = os.environ.get("XDG_DATA_HOME", "")
        if not data.strip():
            data = os.path.expanduser("~/.local/share")
        return absolute(os.path.join(data, "takusu"))
    from vault.home import default_home

    return absolute(default_home())


def _version() -> str:
    from vault import __version__

    return __version__


def _say(message: str) -> None:
    from vault.text import escape

    sys.stderr.write(f"takusu: {escape(message)}\n")


def _fail(exc: object) -> int:
    message = getattr(exc, "message", str(exc))
    _say(_("error: {message}").format(message=message))
    hint = getattr(exc, "hint", None)
    if hint:
        _say(_("hint: {message}").format(message=i18n._(hint)))
    code = getattr(exc, "exit_code", 1)
    return code if type(code) is int else 1
