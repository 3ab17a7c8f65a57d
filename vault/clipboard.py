"""Copy a secret to the clipboard, and clear it again later only if it still holds our value.

`copy()` hands the value to the platform's clipboard tool (`cliptools`), then starts a
detached *clearer* (`python -m vault.clipboard --clear`) that sleeps, reads the clipboard
back and clears it only if it still holds what we copied. The clearer is given a salted
SHA-256 of the value through a pipe, never the value itself: nothing secret is on an argv,
in an environment or in a file. Each copy writes a fresh random *generation* token to a
private file; a clearer whose token is no longer there exits without touching the
clipboard, so a second copy restarts the timer even when it copies the same value again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import cliptools, fsutil
from .clock import Clock, system_clock
from .errors import BadInput, StorageError, TakusuError, UserError
from .home import default_home
from .i18n import _

DEFAULT_SECONDS = 45
SECONDS_ENV = "TAKUSU_CLIP_SECONDS"
GENERATION_FILE = "clipboard.generation"
_JOB_VERSION = 1  # what `copy` hands the clearer on its stdin
_CLEARER_START_TIMEOUT = 10.0
_POLL = 1.0  # how often a sleeping clearer checks that it is still the current one
_MAX_JOB = 64 * 1024


@dataclass(frozen=True)
class Copied:
    """What `copy` did: the tool used and when the clipboard clears (None: never)."""

    tool: str
    seconds: int
    clears_at: datetime | None


def copy(value: str, *, seconds: int | None = None, clock: Clock = system_clock) -> Copied:
    """Put `value` on the clipboard and arrange for it to be cleared after `seconds`.

    `seconds` defaults to TAKUSU_CLIP_SECONDS, else 45; 0 never clears. A later copy
    restarts the timer. Raises UserError when no clipboard tool can be used (naming what
    to install) or the tool fails, BadInput for a bad TAKUSU_CLIP_SECONDS or
    TAKUSU_CLIPBOARD_TOOL; if the timer cannot be set, the clipboard is cleared at once
    and UserError (or StorageError) raised.
    """
    delay = clear_delay(seconds)
    tool = cliptools.choose_tool()
    env = cliptools.tool_environment()
    cliptools.put(tool, value, env)
    cliptools.settle(tool, env, value.encode("utf-8"), present=True)
    try:
        generation = _next_generation()
        if delay:
            _start_clearer(_Job.new(tool.name, value, generation, delay), env)
    except TakusuError:
        # fail closed: a value we cannot promise to clear does not stay on the clipboard
        with contextlib.suppress(UserError):
            cliptools.clear(tool, env)
            cliptools.settle(tool, env, value.encode("utf-8"), present=False)
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
            raise BadInput(
                _("{name} must be a whole number of seconds (0 = never clear)").format(
                    name=SECONDS_ENV
                )
            )
        seconds = int(raw)
    if seconds < 0:
        raise BadInput(_("the clipboard delay cannot be negative"))
    return seconds


def state_dir() -> Path:
    """Where the generation file lives: $XDG_RUNTIME_DIR/takusu, else TAKUSU_HOME/run."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "takusu"
    return default_home() / "run"


def _next_generation() -> tuple[str, Path]:
    """Write a fresh generation token (0600, atomically); the token and the file."""
    folder = state_dir()
    fsutil.ensure_dir(folder)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise StorageError(_("{folder} is not a private folder of this user").format(folder=folder))
    token = secrets.token_hex(16)
    path = folder / GENERATION_FILE
    fsutil.atomic_write(path, token.encode("ascii"))
    return token, path


def digest(salt: bytes, data: bytes) -> bytes:
    """What the clearer knows of a copied value: SHA-256 over a random salt and the value."""
    return hashlib.sha256(salt + data).digest()


@dataclass(frozen=True)
class _Job:
    """What the clearer is told: no secret, only a salted hash of it."""

    tool: str
    salt: str  # hex
    digest: str  # hex
    generation: str
    state: str  # the generation file
    seconds: int

    @classmethod
    def new(cls, tool: str, value: str, generation: tuple[str, Path], seconds: int) -> _Job:
        salt = secrets.token_bytes(32)
        hashed = digest(salt, value.encode("utf-8")).hex()
        return cls(tool, salt.hex(), hashed, generation[0], str(generation[1]), seconds)

    def encode(self) -> bytes:
        return json.dumps({"v": _JOB_VERSION, **asdict(self)}).encode("ascii")

    @classmethod
    def decode(cls, raw: bytes) -> _Job | None:
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.pop("v", None) != _JOB_VERSION:
                return None
            job = cls(**doc)
            for hexed in (job.salt, job.digest):
                bytes.fromhex(hexed)
        except (ValueError, TypeError, AttributeError):
            return None
        kinds_ok = all(isinstance(getattr(job, k), str) for k in ("generation", "state"))
        if job.tool not in cliptools.TOOLS or not kinds_ok or type(job.seconds) is not int:
            return None
        return job if job.seconds > 0 else None

    def matches(self, data: bytes) -> bool:
        return hmac.compare_digest(
            digest(bytes.fromhex(self.salt), data), bytes.fromhex(self.digest)
        )


def _start_clearer(job: _Job, env: dict[str, str]) -> None:
    """Start the detached clearer and hand it the job through its stdin."""
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
        proc.stdin.write(job.encode())
        proc.stdin.close()
        # It forks once it has read the job, and its first process exits: we reap it.
        code = proc.wait(timeout=_CLEARER_START_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        code = -1
    if code != 0:
        raise UserError(_("could not start the clipboard timer; the clipboard was cleared again"))


# ---- the clearer process (python -m vault.clipboard --clear) ----


def _now() -> float:
    # CLOCK_BOOTTIME counts time asleep: a laptop that suspends still clears on wake
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.time()


def _is_current(job: _Job) -> bool:
    try:
        held = fsutil.read_bytes(Path(job.state), 256)
    except (OSError, TakusuError):
        return False
    return hmac.compare_digest(held, job.generation.encode("ascii"))


def _wait_while_current(job: _Job) -> bool:
    """Sleep out the delay; False as soon as a newer copy made this clearer stale."""
    deadline = _now() + job.seconds
    while (left := deadline - _now()) > 0:
        time.sleep(min(left, _POLL))
        if not _is_current(job):
            return False
    return _is_current(job)


def _clearer_main() -> int:
    """Read the job, detach (fork; the parent exits 0 once the job is in), wait, clear."""
    job = _Job.decode(sys.stdin.buffer.read(_MAX_JOB))
    if job is None:
        return 2
    if os.fork():
        os._exit(0)
    tool = cliptools.TOOLS[job.tool]
    env = cliptools.tool_environment()
    if not _wait_while_current(job):
        return 0
    held = cliptools.read_back(tool, env)
    if held is not None and job.matches(held):  # what we cannot read back we do not clear
        with contextlib.suppress(UserError, OSError):
            cliptools.clear(tool, env)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--clear"]:
        sys.exit("usage: python -m vault.clipboard --clear  (the job comes on stdin)")
    sys.exit(_clearer_main())
