"""Copy a secret to the clipboard, and clear it again later only if it still holds our value.

`copy()` hands the value to the platform's clipboard tool on stdin, then starts a detached
*clearer* (`python -m vault.clipboard --clear`) that sleeps, reads the clipboard back and
clears it only if it still holds what we copied. The clearer is given a salted SHA-256 of
the value through a pipe, never the value itself; nothing secret is on an argv, in an
environment or in a file. Each copy writes a fresh random *generation* token to a private
file; a clearer whose token is no longer there exits without touching the clipboard, so a
second copy restarts the timer even when it copies the same value again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import fsutil
from .clock import Clock, system_clock
from .errors import BadInput, StorageError, TakusuError, UserError
from .home import default_home

DEFAULT_SECONDS = 45
SECONDS_ENV = "TAKUSU_CLIP_SECONDS"
TOOL_ENV = "TAKUSU_CLIPBOARD_TOOL"
GENERATION_FILE = "clipboard.generation"

# What the clipboard tools and the clearer may see of our environment. Beyond the display
# and PATH/HOME: XAUTHORITY (display managers put the X cookie outside HOME), the locale
# (pbcopy mangles non-ASCII text without a UTF-8 LANG) and WSL's interop socket (clip.exe
# cannot start without it). None of these is a secret.
_TOOL_ENV_KEYS = (
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
_TOOL_TIMEOUT = 5.0  # xclip, xsel and wl-copy fork a server and their first process exits
_CLEARER_START_TIMEOUT = 10.0
_SETTLE = 2.0  # how long a copy may take to show in a read-back before we go on anyway
_POLL = 1.0  # how often a sleeping clearer checks that it is still the current one
_MAX_JOB = 64 * 1024
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


@dataclass(frozen=True)
class Copied:
    """What `copy` did: the tool used and when the clipboard clears (None: never)."""

    tool: str
    seconds: int
    clears_at: datetime | None


def copy(value: str, *, seconds: int | None = None, clock: Clock = system_clock) -> Copied:
    """Put `value` on the clipboard and arrange for it to be cleared after `seconds`.

    `seconds` defaults to TAKUSU_CLIP_SECONDS, else 45; 0 never clears. Raises UserError
    when no clipboard tool can be used (naming what to install) or the tool fails, and
    BadInput for a bad TAKUSU_CLIP_SECONDS. A later copy restarts the timer.
    """
    delay = clear_delay(seconds)
    tool = choose_tool()
    env = tool_environment()
    copy_argv = _resolve(tool.copy, env)
    _feed(copy_argv, value.encode(tool.encoding), env, tool.name)
    _settle(tool, env, value.encode("utf-8"), present=True)
    try:
        generation = _next_generation()
        if delay:
            _start_clearer(tool, value, generation, delay, env)
    except TakusuError:
        # fail closed: a value we cannot promise to clear does not stay on the clipboard
        with contextlib.suppress(UserError):
            _feed(_resolve(tool.clear_argv(), env), b"", env, tool.name)
            _settle(tool, env, value.encode("utf-8"), present=False)
        raise
    clears_at = clock() + timedelta(seconds=delay) if delay else None
    return Copied(tool=tool.name, seconds=delay, clears_at=clears_at)


def clear_delay(seconds: int | None = None) -> int:
    """The seconds until a copy is cleared: the argument, else TAKUSU_CLIP_SECONDS, else 45."""
    if seconds is None:
        raw = os.environ.get(SECONDS_ENV, "").strip()
        if not raw:
            return DEFAULT_SECONDS
        if not raw.isdigit():
            raise BadInput(f"{SECONDS_ENV} must be a whole number of seconds (0 = never clear)")
        seconds = int(raw)
    if seconds < 0:
        raise BadInput("the clipboard delay cannot be negative")
    return seconds


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
        raise BadInput(f"{TOOL_ENV} must be one of: {', '.join(TOOLS)}, none")
    if not _which(tool.copy[0], env):
        raise UserError(f"clipboard tool not found: {tool.copy[0]}", hint=_INSTALL[name])
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
    "wl-copy": "install wl-clipboard",
    "xclip": "install xclip",
    "xsel": "install xsel",
    "pbcopy": "pbcopy comes with macOS; check your PATH",
    "clip.exe": "clip.exe comes with Windows; check that WSL interop is enabled",
}


def _no_tool(env: Mapping[str, str]) -> UserError:
    hint = "or print the value instead of copying it"
    if env.get("WAYLAND_DISPLAY"):
        return UserError("no clipboard tool found: install wl-clipboard (Wayland)", hint=hint)
    if env.get("DISPLAY"):
        return UserError("no clipboard tool found: install xclip or xsel (X11)", hint=hint)
    if sys.platform == "darwin":
        return UserError("no clipboard tool found: pbcopy is not on PATH", hint=hint)
    if _is_wsl():
        return UserError("no clipboard tool found: clip.exe is not on PATH", hint=hint)
    return UserError(
        "no clipboard tool found: install xclip (X11) or wl-clipboard (Wayland)",
        hint="there is no display here (DISPLAY and WAYLAND_DISPLAY are unset); " + hint,
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
        raise UserError(f"clipboard tool not found: {argv[0]}")
    return [path, *argv[1:]]


def tool_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment a clipboard tool or the clearer is started with."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in _TOOL_ENV_KEYS if k in env}


def _feed(argv: list[str], data: bytes, env: dict[str, str], name: str) -> None:
    """Run a copy command with `data` on stdin; UserError with its message if it fails.

    xclip, xsel and wl-copy fork a server that keeps the selection: it runs in its own
    session (it survives us) with no pipe of ours held open, so we never wait on it.
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
            code = proc.wait(timeout=_TOOL_TIMEOUT)
        except subprocess.TimeoutExpired:
            _LINGERING.append(proc)  # it serves the selection in the foreground
            return
        if code != 0:
            err.seek(0)
            raise UserError(f"{name} could not copy: {_first_line(err.read(2000), code)}")


def _first_line(raw: bytes, code: int) -> str:
    lines = [ln.strip() for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = lines[0] if lines else f"exit status {code}"
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
            timeout=_TOOL_TIMEOUT,
            check=False,
        )
    except (OSError, UserError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    if tool.trailing_newline:
        return done.stdout.removesuffix(b"\r\n").removesuffix(b"\n")
    return done.stdout


def _settle(tool: Tool, env: dict[str, str], value: bytes, *, present: bool) -> None:
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


def state_dir() -> Path:
    """Where the generation file lives: $XDG_RUNTIME_DIR/takusu, else TAKUSU_HOME/run."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "takusu"
    return default_home() / "run"


def _next_generation() -> tuple[str, str]:
    """Write a fresh generation token; (token, file path) for the clearer to check."""
    folder = state_dir()
    fsutil.ensure_dir(folder)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise StorageError(f"{folder} is not a private folder of this user")
    token = secrets.token_hex(16)
    path = folder / GENERATION_FILE
    fsutil.atomic_write(path, token.encode("ascii"))
    return token, str(path)


def digest(salt: bytes, data: bytes) -> bytes:
    """What the clearer knows of a copied value: SHA-256 over a random salt and the value."""
    return hashlib.sha256(salt + data).digest()


def _start_clearer(
    tool: Tool, value: str, generation: tuple[str, str], delay: int, env: dict[str, str]
) -> None:
    """Start the detached clearer and hand it the job through its stdin (no secret in it)."""
    salt = secrets.token_bytes(32)
    job = {
        "v": 1,
        "tool": tool.name,
        "salt": salt.hex(),
        "digest": digest(salt, value.encode("utf-8")).hex(),
        "generation": generation[0],
        "state": generation[1],
        "seconds": delay,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault.clipboard", "--clear"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        # `-m` finds this very package from here, whatever the caller's cwd or PYTHONPATH
        cwd=str(Path(__file__).resolve().parent.parent),
        close_fds=True,
        start_new_session=True,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(job).encode("ascii"))
        proc.stdin.close()
        # It forks once it has read the job, and its first process exits: we reap it.
        code = proc.wait(timeout=_CLEARER_START_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        code = -1
    if code != 0:
        raise UserError("could not start the clipboard timer; the clipboard was cleared again")


# ---- the clearer process (python -m vault.clipboard --clear) ----


def _read_job(raw: bytes) -> dict[str, object] | None:
    try:
        job = json.loads(raw)
    except ValueError:
        return None
    fields = {"tool": str, "salt": str, "digest": str, "generation": str, "state": str}
    if not isinstance(job, dict) or job.get("v") != 1 or job.get("tool") not in TOOLS:
        return None
    if not all(isinstance(job.get(k), t) for k, t in fields.items()):
        return None
    seconds = job.get("seconds")
    if type(seconds) is not int or seconds < 1:
        return None
    try:
        for key in ("salt", "digest"):
            bytes.fromhex(str(job[key]))
    except ValueError:
        return None
    return job


def _now() -> float:
    # CLOCK_BOOTTIME counts time asleep: a laptop that suspends still clears on wake
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.time()


def _is_current(job: Mapping[str, object]) -> bool:
    try:
        held = fsutil.read_bytes(Path(str(job["state"])), 256)
    except (OSError, TakusuError):
        return False
    return hmac.compare_digest(held, str(job["generation"]).encode("ascii"))


def _wait_while_current(job: Mapping[str, object]) -> bool:
    """Sleep out the delay; False as soon as a newer copy made this clearer stale."""
    deadline = _now() + int(str(job["seconds"]))
    while (left := deadline - _now()) > 0:
        time.sleep(min(left, _POLL))
        if not _is_current(job):
            return False
    return _is_current(job)


def _holds_our_value(tool: Tool, job: Mapping[str, object], env: dict[str, str]) -> bool:
    data = read_back(tool, env)
    if data is None:
        return False  # what we cannot read back we do not clear
    salt, expected = bytes.fromhex(str(job["salt"])), bytes.fromhex(str(job["digest"]))
    return hmac.compare_digest(digest(salt, data), expected)


def _clearer_main() -> int:
    """Read the job, detach (fork; the parent exits 0 once the job is in), wait, clear."""
    job = _read_job(sys.stdin.buffer.read(_MAX_JOB))
    if job is None:
        return 2
    if os.fork():
        os._exit(0)
    tool = TOOLS[str(job["tool"])]
    env = tool_environment()
    if _wait_while_current(job) and _holds_our_value(tool, job, env):
        with contextlib.suppress(UserError, OSError):
            _feed(_resolve(tool.clear_argv(), env), b"", env, tool.name)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--clear"]:
        sys.exit("usage: python -m vault.clipboard --clear  (the job comes on stdin)")
    sys.exit(_clearer_main())
