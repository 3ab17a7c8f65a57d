"""Run a command with secrets in its environment, masking them in what it prints.

`run()` starts the child with the caller's environment plus the secrets, relays its
stdout and stderr through `masking.Masker` (every occurrence of a secret value becomes
`********`), forwards the signals a user or supervisor sends us, and returns the child's
exit code. The caller guarantees that `argv` holds no secret: argv is visible to every
user of the machine in `ps`.

`references()` and `parse_spec()` read the two ways a secret is named for `takusu run`:
a variable whose value is `takusu://[VAULT/]TITLE[/FIELD]`, and `--env VAR=[VAULT/]TITLE[/FIELD]`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import select
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, BinaryIO

from . import i18n
from .errors import BadInput, UserError
from .i18n import N_, _
from .masking import Masker

MIN_MASK_LEN = 4
EXIT_NOT_FOUND = 127  # as shells: the command does not exist
EXIT_CANNOT_RUN = 126  # as shells: it exists but cannot be executed
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH)
# The terminal itself sends these to its whole foreground process group.
_TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGWINCH)
_DROPPED_ENV = ("TAKUSU_PASSPHRASE",)  # never handed to a child, whatever the caller had
_READ_SIZE = 65536
_TICK = 0.2  # how often we look whether the child has exited while its pipes stay open
_GRACE = 2.0  # how long we go on relaying for grandchildren that keep the pipes open


@dataclass(frozen=True)
class RunResult:
    """The child's exit code (128 + N when signal N killed it) and the variables whose
    values were too short to mask (passed to the child, but shown as they are in its
    output; empty when masking was off)."""

    exit_code: int
    unmasked: list[str] = field(default_factory=list)


def unmaskable(env_secrets: Mapping[str, str]) -> list[str]:
    """The variable names whose values are too short (under 4 characters) to be masked.

    Masking a one- or two-letter value would blank out ordinary output everywhere, so
    these are passed but not masked; the caller should warn about them before running.
    """
    return sorted(name for name, value in env_secrets.items() if len(value) < MIN_MASK_LEN)


def run(
    argv: list[str],
    env_secrets: Mapping[str, str],
    *,
    mask: bool = True,
    base_env: Mapping[str, str] | None = None,
) -> RunResult:
    """Run `argv` with `env_secrets` added to its environment; the child's exit status.

    The environment is `base_env` (default: ours) without TAKUSU_PASSPHRASE, plus the
    secrets. stdin is inherited. With `mask`, stdout and stderr go through pipes and every
    secret of 4 characters or more is replaced by `********` on the way to ours; without
    it the child writes to our stdout and stderr directly. SIGINT, SIGTERM, SIGHUP,
    SIGQUIT and SIGWINCH sent to us are forwarded, and we wait until the child exits.

    Masking covers the exact bytes of each value (not quoted, escaped or re-encoded
    forms); see `masking` for overlaps and the hold-back rule. Masked, the child sees
    pipes, not a terminal, so some programs buffer more or drop colours. Once the child
    has exited, output its own children still write to the pipes is relayed for 2 s more.

    Raises UserError "command not found: X" (its exit_code is 127, as in shells) or
    "cannot run X: …" (126); BadInput for an empty argv. `argv` must hold no secret.
    """
    if not argv:
        raise BadInput(_("no command to run"))
    env = _child_env(env_secrets, os.environ if base_env is None else base_env)
    unmasked = unmaskable(env_secrets) if mask else []
    secrets = [os.fsencode(v) for v in env_secrets.values() if len(v) >= MIN_MASK_LEN]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # what the caller printed comes before the child's output
    collecting = gc.isenabled()
    gc.enable()  # bin/takusu turns it off for a command's moment; the child may run for hours
    try:
        with _Forwarder() as forwarder:
            proc = _start(argv, env, piped=mask)
            forwarder.attach(proc)
            if mask:
                _relay(proc, secrets)
            code = proc.wait()
    finally:
        if not collecting:
            gc.disable()  # as the caller had it (the agent's loop collects on its own terms)
    return RunResult(exit_code=128 - code if code < 0 else code, unmasked=unmasked)


def _child_env(env_secrets: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _DROPPED_ENV}
    env.update(env_secrets)
    return env


def _start(argv: list[str], env: dict[str, str], *, piped: bool) -> subprocess.Popen[bytes]:
    pipe = subprocess.PIPE if piped else None
    try:
        return subprocess.Popen(argv, env=env, stdout=pipe, stderr=pipe, close_fds=True)
    except FileNotFoundError:
        message = _("command not found: {command}").format(command=argv[0])
        raise _cannot_run(message, EXIT_NOT_FOUND) from None
    except PermissionError:
        message = _("cannot run {command}: permission denied").format(command=argv[0])
        raise _cannot_run(message, EXIT_CANNOT_RUN) from None
    except OSError as exc:
        if exc.strerror:
            message = _("cannot run {command}: {reason}").format(
                command=argv[0], reason=exc.strerror
            )
        else:
            message = _("cannot run {command}: it cannot be executed").format(command=argv[0])
        raise _cannot_run(message, EXIT_CANNOT_RUN) from None
    except ValueError:
        # Python's own message is vaguer; neither names the value
        raise BadInput(
            _("the command or an environment variable holds a NUL character or a bad name")
        ) from None


def _cannot_run(message: str, code: int) -> UserError:
    error = UserError(message)
    error.exit_code = code  # the shell's convention, so `takusu run` exits as `sh -c` would
    return error


# ---- relaying the child's output ----


def _relay(proc: subprocess.Popen[bytes], secrets: list[bytes]) -> None:
    """Copy the child's stdout and stderr to ours, masked, until both end (or the child
    has exited and whatever still holds its pipes has been quiet for a moment)."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    for source, target in ((proc.stdout, 1), (proc.stderr, 2)):
        sel.register(source, selectors.EVENT_READ, (target, Masker(secrets)))
    exited_at: float | None = None
    try:
        while sel.get_map():
            events = sel.select(timeout=_TICK)
            for key, _mask in events:
                _pass_on(sel, key.fileobj, *key.data)  # type: ignore[arg-type]
            # Only a select that began after the exit was seen proves the pipes are drained
            # of what the child wrote; what is left is held open by its own children.
            if exited_at is not None and (not events or time.monotonic() - exited_at > _GRACE):
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
    finally:
        for key in list(sel.get_map().values()):
            target, masker = key.data
            _write(target, masker.end())
            sel.unregister(key.fileobj)
        sel.close()
        proc.stdout.close()
        proc.stderr.close()


def _pass_on(sel: selectors.BaseSelector, source: BinaryIO, target: int, masker: Masker) -> None:
    chunk = os.read(source.fileno(), _READ_SIZE)
    if not chunk:
        sel.unregister(source)
        _write(target, masker.end())
    elif not _write(target, masker.feed(chunk)):
        # our side is gone (a closed pipe, a hung-up terminal): stop reading, so the child
        # gets EPIPE on its next write, as it would writing there itself
        sel.unregister(source)
        source.close()


def _write(fd: int, data: bytes) -> bool:
    """Write all of `data` to `fd`; False if it cannot take any more."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])
        except OSError:
            return False
    return True


# ---- signals ----


class _Forwarder:
    """Forwards FORWARDED signals to the child while the block runs (main thread only).

    A terminal sends Ctrl-C (and Ctrl-\\, hangup, resize) to its whole foreground process
    group, which the child shares with us: it already has the signal, so we pass on such
    a signal only when the child is not in that group. A signal sent to us alone (`kill
    PID`, a supervisor) is forwarded. So the child gets each signal once; the exception is
    a `kill` aimed at takusu alone while it runs in the terminal's foreground (it is taken
    for the terminal's): send SIGTERM, or signal the process group, instead.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Forwarder:
        if threading.current_thread() is threading.main_thread():
            for sig in FORWARDED:
                self._previous[sig] = signal.signal(sig, self._receive)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        for sig in self._pending:  # arrived while the child was being started
            self._forward(sig)
        self._pending.clear()

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        if self._proc is None:
            self._pending.append(signum)
        else:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        assert self._proc is not None
        if signum in _TERMINAL_SIGNALS and _terminal_delivers_to(self._proc.pid):
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signum)  # a no-op once the child has been reaped


def _terminal_delivers_to(pid: int) -> bool:
    """True if `pid` is in our process group and that group is our terminal's foreground."""
    try:
        if os.getpgid(pid) != os.getpgrp():
            return False
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # no controlling terminal: nobody else delivers it
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


# ---- naming secrets: takusu:// references and --env specs ----

SCHEME = "takusu://"
DEFAULT_FIELD = "password"
# The field names a two-part spec recognises as TITLE/FIELD (else it is VAULT/TITLE).
FIELD_NAMES = ("username", "password", "url", "notes", "totp")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPEC_HELP = N_("write [VAULT/]TITLE[/FIELD]; a '/' inside a name is written '//'")


def _spec_help() -> str:
    return i18n._(_SPEC_HELP)


@dataclass(frozen=True)
class Ref:
    """A secret named by a spec: the vault (None: the default one), item title and field."""

    vault: str | None
    title: str
    field: str = DEFAULT_FIELD


def parse_ref(text: str) -> Ref:
    """Read `[VAULT/]TITLE[/FIELD]` (BadInput if it is not one). The rule:

    - `/` separates parts; `//` stands for a `/` inside a name (`a//b` is the title "a/b").
    - one part: `TITLE` (field `password`, default vault);
    - two parts `A/B`: TITLE/FIELD when B is exactly one of username, password, url, notes,
      totp; otherwise VAULT/TITLE (field `password`);
    - three parts: VAULT/TITLE/FIELD, the only form for a custom field; an empty VAULT
      (`/TITLE/FIELD`) means the default vault.
    """
    parts = _split(text)
    if len(parts) == 1:
        ref = Ref(None, parts[0])
    elif len(parts) == 2:
        first, last = parts
        ref = Ref(None, first, last) if last in FIELD_NAMES else Ref(first, last)
        if ref.vault == "":
            raise BadInput(
                _("no vault name before '/' in {text}").format(text=repr(text)), hint=_spec_help()
            )
    elif len(parts) == 3:
        ref = Ref(parts[0] or None, parts[1], parts[2])
    else:
        raise BadInput(_("too many '/' in {text}").format(text=repr(text)), hint=_spec_help())
    if not ref.title:
        raise BadInput(_("no item title in {text}").format(text=repr(text)), hint=_spec_help())
    if not ref.field:
        raise BadInput(
            _("no field name after the last '/' in {text}").format(text=repr(text)),
            hint=_spec_help(),
        )
    return ref


def _split(text: str) -> list[str]:
    """Split on `/`, reading `//` as a literal `/` (left to right: `a///b` is "a/", "b")."""
    parts, current, i = [], [], 0
    while i < len(text):
        if text.startswith("//", i):
            current.append("/")
            i += 2
        elif text[i] == "/":
            parts.append("".join(current))
            current, i = [], i + 1
        else:
            current.append(text[i])
            i += 1
    parts.append("".join(current))
    return parts


def parse_spec(spec: str) -> tuple[str, Ref]:
    """Read an `--env VAR=[VAULT/]TITLE[/FIELD]` option (see `parse_ref` for the rule).

    A `takusu://` prefix on the right is accepted too. BadInput on a bad variable name or
    a bad reference.
    """
    name, sep, target = spec.partition("=")
    if not sep:
        raise BadInput(
            _("--env {spec} has no '='").format(spec=repr(spec)),
            hint=_("write --env VAR=[VAULT/]TITLE[/FIELD]"),
        )
    if not _VAR_NAME.fullmatch(name):
        raise BadInput(
            _("--env: {name} is not a variable name (letters, digits, _)").format(name=repr(name))
        )
    return name, parse_ref(target.removeprefix(SCHEME))


def references(env: Mapping[str, str]) -> dict[str, Ref]:
    """The variables of `env` whose value is `takusu://[VAULT/]TITLE[/FIELD]`, parsed.

    BadInput naming the variable if one of them is not a valid reference.
    """
    found: dict[str, Ref] = {}
    for name, value in sorted(env.items()):
        if value.startswith(SCHEME):
            try:
                found[name] = parse_ref(value[len(SCHEME) :])
            except BadInput as exc:
                raise BadInput(
                    _("{name}: {message}").format(name=name, message=exc.message), hint=exc.hint
                ) from None
    return found
