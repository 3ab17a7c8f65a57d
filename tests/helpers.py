"""Shared test helpers: an in-memory keyring backend and a way to run the CLI in-process.

InMemoryKeyring is the one test double for the OS keyring: a real `keyring` backend
class (same API, positive priority) that keeps entries in a dict. CI also runs the
keystore contract tests against a real Secret Service (see test_keystore.py).
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

import cli

PASSPHRASE = "test passphrase: correct horse battery staple"


class InMemoryKeyring(KeyringBackend):
    """A secure-looking keyring backend that lives in memory (test double)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise PasswordDeleteError("not found")
        del self.entries[(service, username)]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


def run(
    home: Path,
    *args: str,
    input: str | bytes | None = None,
    env: dict | None = None,
    passphrase: str | None = PASSPHRASE,
) -> Result:
    """Run `takusu ARGS` in-process through cli.main with TAKUSU_HOME=home."""
    full_env = {"TAKUSU_HOME": str(home), "TAKUSU_VAULT": None}
    if passphrase is not None:
        full_env["TAKUSU_PASSPHRASE"] = passphrase
    full_env.update(env or {})
    runner = CliRunner()
    umask = os.umask(0o022)
    os.umask(umask)
    with runner.isolation(input=input, env=full_env) as (out, err, _):
        code = 0
        try:
            cli.main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.environ.pop("TAKUSU_PASSPHRASE", None)
    os.umask(umask)
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def ok(result: Result) -> Result:
    assert result.code == 0, result
    return result


def record_calls(monkeypatch, owner, name, label):
    """From now on, `label(first argument)` of every call of `owner.name`, in order (the
    call itself still happens)."""
    seen = []
    real = getattr(owner, name)

    def recorded(first, *args, **kwargs):
        seen.append(label(first))
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return seen


def takusu_script() -> str:
    """The installed `takusu` console script: beside this Python (a venv's bin/, so the
    README's `.venv/bin/python -m pytest` finds it without the venv on PATH), else on PATH."""
    beside = Path(sys.executable).with_name("takusu")
    if beside.exists():
        return str(beside)
    found = shutil.which("takusu")
    assert found, "the takusu script is not installed: run pip install -e '.[test]' first"
    return found


def read_pty(master: int, timeout: float = 0.2) -> bytes | None:
    """What a pseudo-terminal's master side has within `timeout`: its bytes, None when
    nothing came, b"" when the terminal is closed."""
    ready, _, _ = select.select([master], [], [], timeout)
    if not ready:
        return None
    try:
        return os.read(master, 4096)
    except OSError:
        return b""


def on_tty(home: Path, args: list[str], answers: list[tuple[str, str]], env_extra=None):
    """Run takusu on a pseudo-terminal; when `expect` appears in its output, type `reply`."""
    master, slave = pty.openpty()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home.parent),
        "TAKUSU_HOME": str(home),
        "TERM": "dumb",
        **(env_extra or {}),
    }
    proc = subprocess.Popen(
        [takusu_script(), *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    seen, pending, deadline = b"", list(answers), time.monotonic() + 30
    answered = 0
    try:
        while time.monotonic() < deadline:
            chunk = read_pty(master)
            if chunk == b"":
                break
            seen += chunk or b""
            # each answer goes to a prompt that appeared after the previous answer (a
            # hidden prompt flushes what was typed ahead of it)
            if pending and pending[0][0].encode() in seen[answered:]:
                answered = seen.index(pending[0][0].encode(), answered) + len(pending[0][0])
                os.write(master, pending.pop(0)[1].encode() + b"\n")
            if proc.poll() is not None and chunk is None:
                break
        proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, seen.decode(errors="replace")
