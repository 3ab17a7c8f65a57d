"""The platform's clipboard tools: which one to use here, and how to copy, read back, clear.

Each tool gets the value on stdin (never on its argv) and a minimal environment. xclip,
xsel and wl-copy fork a server that keeps the selection after their first process exits;
it runs in its own session, so it outlives us, and holds no pipe of ours.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from . import i18n
from .errors import BadInput, UserError
from .i18n import N_, _

TOOL_ENV = "TAKUSU_CLIPBOARD_TOOL"

# What the clipboard tools and the clearer may see of our environment. Beyond the display
# and PATH/HOME: XAUTHORITY (display managers put the X cookie outside HOME), the locale
# (pbcopy mangles non-ASCII text without a UTF-8 LANG) and WSL's interop socket (clip.exe
# cannot start without it). None of these is a secret.
TOOL_ENV_KEYS = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "PATH",
    "HOME",
    "XAUTHORITY",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "WSL_INTEROP",
    "WSL_DISTRO_NAME",
)
_TIMEOUT = 5.0  # for a tool's first process (the forking ones exit at once) and a read-back
_SETTLE = 2.0  # how long a copy may take to show in a read-back before we go on anyway
# Tools that stay in the foreground (none of ours by default); kept so that they are not
# reaped or warned about while they still serve the selection.
_LINGERING: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class Tool:
    """One clipboard tool: how to copy (value on stdin), read back and clear."""

    name: str
    copy: tuple[str, ...]
    paste: tuple[str, ...]
    clear: tuple[str, ...] | None = None  # None: copy an empty string
    encoding: str = "utf-8"  # what the copy command reads; the paste command writes UTF-8
    trailing_newline: bool = False  # the paste command adds one line ending
    forks: bool = True  # the copy command's first process exits before the copy is in place

    def clear_argv(self) -> tuple[str, ...]:
        return self.clear or self.copy


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("wl-copy", ("wl-copy",), ("wl-paste", "-n"), clear=("wl-copy", "--clear")),
        Tool(
            "xclip",
            ("xclip", "-selection", "clipboard"),
            ("xclip", "-o", "-selection", "clipboard"),
        ),
        Tool("xsel", ("xsel", "--clipboard", "--input"), ("xsel", "--clipboard", "--output")),
        Tool("pbcopy", ("pbcopy",), ("pbpaste",), forks=False),
        # clip.exe reads UTF-16 text; Get-Clipboard prints one line ending after it
        Tool(
            "clip.exe",
            ("clip.exe",),
            (
                "powershell.exe",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                "[Console]::OutputEncoding=[Text.Encoding]::UTF8; Get-Clipboard -Raw",
            ),
            encoding="utf-16-le",
            trailing_newline=True,
            forks=False,
        ),
    )
}


def choose_tool(environ: Mapping[str, str] | None = None) -> Tool:
    """The clipboard tool to use here; UserError naming what to install if there is none.

    Order: wl-copy (WAYLAND_DISPLAY set), xclip then xsel (DISPLAY set), pbcopy (macOS),
    clip.exe (WSL). TAKUSU_CLIPBOARD_TOOL forces one of these names, or `none`.
    """
    env = os.environ if environ is None else environ
    forced = env.get(TOOL_ENV, "").strip()
    if forced:
        return _forced_tool(forced, env)
    for name in _candidates(env):
        if _which(TOOLS[name].copy[0], env):
            return TOOLS[name]
    raise _no_tool(env)


def _forced_tool(name: str, env: Mapping[str, str]) -> Tool:
    if name == "none":
        raise _no_tool(env)
    tool = TOOLS.get(name)
    if tool is None:
        raise BadInput(
            _("{name} must be one of: {tools}").format(
                name=TOOL_ENV, tools=", ".join([*TOOLS, "none"])
            )
        )
    if not _which(tool.copy[0], env):
        raise UserError(
            _("clipboard tool not found: {tool}").format(tool=tool.copy[0]),
            hint=i18n._(_INSTALL[name]),
        )
    return tool


def _candidates(env: Mapping[str, str]) -> list[str]:
    names = []
    if env.get("WAYLAND_DISPLAY"):
        names.append("wl-copy")
    if env.get("DISPLAY"):
        names += ["xclip", "xsel"]
    if sys.platform == "darwin":
        names.append("pbcopy")
    if _is_wsl():
        names.append("clip.exe")
    return names


_INSTALL = {
    "wl-copy": N_("install wl-clipboard"),
    "xclip": N_("install xclip"),
    "xsel": N_("install xsel"),
    "pbcopy": N_("pbcopy comes with macOS; check your PATH"),
    "clip.exe": N_("clip.exe comes with Windows; check that WSL interop is enabled"),
}


def _no_tool(env: Mapping[str, str]) -> UserError:
    hint = _("or print the value instead of copying it")
    if env.get("WAYLAND_DISPLAY"):
        return UserError(_("no clipboard tool found: install wl-clipboard (Wayland)"), hint=hint)
    if env.get("DISPLAY"):
        return UserError(_("no clipboard tool found: install xclip or xsel (X11)"), hint=hint)
    if sys.platform == "darwin":
        return UserError(_("no clipboard tool found: pbcopy is not on PATH"), hint=hint)
    if _is_wsl():
        return UserError(_("no clipboard tool found: clip.exe is not on PATH"), hint=hint)
    return UserError(
        _("no clipboard tool found: install xclip (X11) or wl-clipboard (Wayland)"),
        hint=_(
            "there is no display here (DISPLAY and WAYLAND_DISPLAY are unset); "
            "or print the value instead of copying it"
        ),
    )


def _is_wsl() -> bool:
    try:
        with open("/proc/version", "rb") as f:
            return b"microsoft" in f.read(4096).lower()
    except OSError:
        return False


def _which(name: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=env.get("PATH", os.defpath))


def _resolve(argv: tuple[str, ...], env: Mapping[str, str]) -> list[str]:
    """argv with its program as an absolute path; UserError if it is not installed."""
    path = _which(argv[0], env)
    if path is None:
        raise UserError(_("clipboard tool not found: {tool}").format(tool=argv[0]))
    return [path, *argv[1:]]


def tool_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment a clipboard tool or the clearer is started with."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in TOOL_ENV_KEYS if k in env}


def put(tool: Tool, value: str, env: dict[str, str]) -> None:
    """Copy `value` with `tool`; UserError with the tool's own message if it fails."""
    _feed(_resolve(tool.copy, env), value.encode(tool.encoding), env, tool.name)


def clear(tool: Tool, env: dict[str, str]) -> None:
    """Empty the clipboard (the tool's clear command, else copy an empty string)."""
    _feed(_resolve(tool.clear_argv(), env), b"", env, tool.name)


def _feed(argv: list[str], data: bytes, env: dict[str, str], name: str) -> None:
    """Run a copy command with `data` on stdin; UserError with its message if it fails.

    We wait only for the first process: the server a forking tool leaves behind runs in
    its own session and holds no pipe of ours.
    """
    # The tool's stderr goes to an unnamed temporary file, not a pipe: the forked server
    # inherits it, and a pipe would either hang a reader or hand the server a SIGPIPE.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(data)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        try:
            code = proc.wait(timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:
            _LINGERING.append(proc)  # it serves the selection in the foreground
            return
        if code != 0:
            err.seek(0)
            raise UserError(
                _("{tool} could not copy: {reason}").format(
                    tool=name, reason=_first_line(err.read(2000), code)
                )
            )


def _first_line(raw: bytes, code: int) -> str:
    lines = [ln.strip() for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = lines[0] if lines else _("exit status {code}").format(code=code)
    return "".join(c if c.isprintable() else "?" for c in text)[:200]


def read_back(tool: Tool, env: dict[str, str]) -> bytes | None:
    """What the clipboard holds now, as `tool`'s paste command reads it (None: unreadable)."""
    try:
        done = subprocess.run(
            _resolve(tool.paste, env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            cwd="/",
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, UserError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    if tool.trailing_newline:
        return done.stdout.removesuffix(b"\r\n").removesuffix(b"\n")
    return done.stdout


def settle(tool: Tool, env: dict[str, str], value: bytes, *, present: bool) -> None:
    """Wait (briefly) until the clipboard does, or no longer does, hold `value`.

    xclip, xsel and wl-copy exit before their forked server owns the selection; without
    this a copy and a clear right after it could land in either order.
    """
    if not tool.forks:
        return
    deadline = time.monotonic() + _SETTLE
    while time.monotonic() < deadline:
        data = read_back(tool, env)
        if (data is not None and hmac.compare_digest(data, value)) == present:
            return
        time.sleep(0.02)
