"""Secret hygiene: canary secrets planted through a whole story must turn up nowhere.

The story runs the real console script in subprocesses (passphrase mode, umask 000, a
git-synced vault with a bare remote): the client adds an item whose password, TOTP seed,
title, username, URL and note are canaries, shares it, the secretary retrieves it, the
client revokes and rotates. A fake `git` first on PATH records the command line and the
environment of every git child takusu starts. Each case then looks for the canaries in one
place: what failing commands print, tracebacks under --debug, every file of both homes and
the vault folders, the git history, the git children, file modes, core-dump limits, and
what happens when there is no terminal.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import vault
from tests.world import member_add_args
from vault import totp
from vault.identity import Identity

REPO = Path(vault.__file__).resolve().parent.parent
TAKUSU = Path(sys.executable).parent / "takusu"
REAL_GIT = shutil.which("git") or "/usr/bin/git"

# Secrets: must never appear outside the encrypted payloads (nor in any output but `get`).
PASSWORD = "pw-Canary-7f3a9c2e"
NEW_PASSWORD = "rotated-Canary-51d0e8"
SEED = "KANARYSEEDQWERTYZXCV"  # base32, 100 bits
CLIENT_PASS = "client passphrase canary 3c9d"
SECRETARY_PASS = "secretary passphrase canary 8e2a"
WRONG_PASS = "wrong passphrase canary 0f7b"
OTHER_PASSWORD = "second-pw-canary-33cc"
BAD_SEED = "BADSEED-canary-11aa!!"
LABEL = "label-canary-22bb"
ENV_SECRET = "env-canary-66ff"  # in the environment of every takusu run, for no reason
# Item details: encrypted at rest like the secrets (the folder never holds a plaintext name).
TITLE = "Title-Canary-1a6b"
USERNAME = "user-canary-9d2c"
URL = "https://url-canary-5e8f.example/login"
NOTE = "note-canary-4b1e"

SECRETS = (
    PASSWORD,
    NEW_PASSWORD,
    SEED,
    CLIENT_PASS,
    SECRETARY_PASS,
    WRONG_PASS,
    OTHER_PASSWORD,
    BAD_SEED,
    LABEL,
    ENV_SECRET,
)
DETAILS = (TITLE, USERNAME, URL, NOTE)
CANARIES = SECRETS + DETAILS
URI = f"otpauth://totp/Acme:{USERNAME}?secret={SEED}&issuer=Acme"


# --- looking for canaries -------------------------------------------------------------------


def _b64_cores(secret: bytes) -> list[bytes]:
    """The parts of base64/base64url(secret) that do not depend on its alignment in a stream."""
    cores = []
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + secret).rstrip(b"=")
            core = text[4 if pad else 0 : -4]
            if len(core) >= 8:
                cores.append(core)
    return cores


def forms(canary: str) -> list[bytes]:
    """How a canary could sit in bytes: as is (any case), hex, base64 or base64url."""
    raw = canary.encode()
    return [raw.lower(), raw.hex().encode(), *_b64_cores(raw)]


_B64_TOKEN = re.compile(rb"[A-Za-z0-9_+/-]{16,}")


def decoded_tokens(data: bytes, depth: int = 3) -> Iterator[bytes]:
    """Every long base64(url) token in `data`, decoded, and the tokens inside those, down to
    `depth` levels (an event line wraps a payload that wraps ciphertexts)."""
    if depth == 0:
        return
    for token in set(_B64_TOKEN.findall(data)):
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                inner = decode(token + b"=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            yield inner
            yield from decoded_tokens(inner, depth - 1)


def found(data: bytes, canaries: tuple[str, ...] = CANARIES) -> list[str]:
    """The canaries present in `data` in any of their forms, also inside base64 tokens."""
    lowered = data.lower()
    hits = [c for c in canaries if any(f in lowered or f in data for f in forms(c))]
    for inner in decoded_tokens(data):
        inner_lower = inner.lower()
        hits += [c for c in canaries if c.encode().lower() in inner_lower and c not in hits]
    return hits


def files_under(*roots: Path, skip_git: bool = True) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if skip_git and ".git" in path.relative_to(root).parts:
                continue
            if path.is_file() and not path.is_symlink():
                yield path


# --- running the real console script --------------------------------------------------------


@dataclass
class Run:
    who: str
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Run({self.who} {' '.join(self.args)!r} -> {self.code}, err={self.err[-300:]!r})"


@dataclass
class Story:
    root: Path
    client: Path
    secretary: Path
    folder: Path  # the client's vault folder: a git work tree
    clone: Path  # the secretary's clone of it
    remote: Path  # the bare repository both push to
    git_log: Path  # what the fake git recorded
    env: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    def env_for(self, who: str, **extra: str) -> dict[str, str]:
        home, passphrase = (
            (self.client, CLIENT_PASS) if who == "c" else (self.secretary, SECRETARY_PASS)
        )
        env = {**self.env, "TAKUSU_HOME": str(home), "TAKUSU_PASSPHRASE": passphrase}
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    def takusu(
        self,
        who: str,
        *args: str,
        input: str | None = None,
        stdin: object = None,
        stdout: object = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Run:
        result = subprocess.run(
            [str(TAKUSU), *args],
            input=input,
            stdin=stdin if input is None else None,
            stdout=stdout or subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env_for(who),
            umask=0,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        run = Run(who, args, result.returncode, result.stdout or "", result.stderr)
        self.runs.append(run)
        return run

    def ok(self, who: str, *args: str, **kw: object) -> Run:
        run = self.takusu(who, *args, **kw)  # type: ignore[arg-type]
        assert run.code == 0, run
        return run

    def git(self, cwd: Path, *args: str) -> str:
        env = {"PATH": os.environ["PATH"], "HOME": self.env["HOME"], "LANG": "C"}
        return subprocess.run(
            [REAL_GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
        ).stdout

    def code(self, who: str) -> str:
        return json.loads(self.ok(who, "whoami", "--json").out)["safety_code"]


FAKE_GIT = """#!/bin/sh
{{ printf 'CMDLINE '; tr '\\000' '\\037' < /proc/$$/cmdline; printf '\\n';
  printf 'ENVIRON '; tr '\\000' '\\037' < /proc/$$/environ; printf '\\n'; }} >> {log}
exec {git} "$@"
"""


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    """The whole story, once, under umask 000; every takusu run is kept with its output."""
    root = tmp_path_factory.mktemp("hygiene")
    user_home, fake_bin, scratch = root / "user", root / "bin", root / "scratch"
    for path in (user_home, fake_bin, scratch):
        path.mkdir()
    (user_home / ".gitconfig").write_text(
        "[user]\n\tname = Tester\n\temail = tester@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    git_log = root / "git-children.log"
    (fake_bin / "git").write_text(FAKE_GIT.format(log=git_log, git=REAL_GIT))
    (fake_bin / "git").chmod(0o755)
    env = {
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "HOME": str(user_home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "UNRELATED_TOKEN": ENV_SECRET,
    }
    s = Story(
        root,
        root / "client",
        root / "secretary",
        root / "client-vault",
        root / "secretary-vault",
        root / "remote.git",
        git_log,
        env,
    )

    s.ok("c", "init", "--name", "Client", "--passphrase")
    s.ok("s", "init", "--name", "Aiko", "--passphrase")
    s.ok("c", "vault", "create", str(s.folder), "--name", "acme")
    s.git(root, "init", "--quiet", "--bare", str(s.remote))
    s.git(s.folder, "init", "--quiet")
    s.git(s.folder, "remote", "add", "origin", str(s.remote))
    s.ok(
        "c",
        "add",
        TITLE,
        "--username",
        USERNAME,
        "--url",
        URL,
        "--note",
        NOTE,
        "--password-stdin",
        "--totp-stdin",
        input=f"{PASSWORD}\n{URI}\n",
    )
    s.ok("c", "add", "Bank", "--password-stdin", input="bank-pw\n")
    s.ok("c", "sync")  # the first commit; no upstream yet
    s.git(s.folder, "push", "--quiet", "-u", "origin", "main")

    (scratch / "aiko.card").write_text(s.ok("s", "card").out)
    s.ok("c", *member_add_args(scratch / "aiko.card", "aiko", s.code("s")))
    s.ok("c", "share", TITLE, "--with", "aiko")
    s.ok("c", "sync")
    s.git(root, "clone", "--quiet", str(s.remote), str(s.clone))
    s.ok("s", "vault", "open", str(s.clone), "--name", "acme", "--safety-code", s.code("c"))
    s.ok("s", "list")
    s.ok("s", "get", TITLE)
    s.ok("s", "get", TITLE, "username")
    s.ok("s", "otp", TITLE)
    s.ok("s", "show", TITLE, "--reveal")
    s.ok("s", "sync")
    s.ok("c", "sync")
    s.ok("c", "audit")
    s.ok("c", "revoke", TITLE, "--from", "aiko")
    s.ok("c", "rotate", TITLE, "--password-stdin", input=f"{NEW_PASSWORD}\n")
    s.ok("c", "sync")
    s.ok("s", "sync")
    return s


# --- failing commands and tracebacks --------------------------------------------------------


@dataclass
class Failing:
    who: str
    args: tuple[str, ...]
    input: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    traceback: bool = False  # --debug: a traceback is expected on stderr


FAILING = {
    "wrong passphrase": Failing("c", ("list",), env={"TAKUSU_PASSPHRASE": WRONG_PASS}),
    "wrong passphrase, --debug": Failing(
        "c", ("--debug", "list"), traceback=True, env={"TAKUSU_PASSPHRASE": WRONG_PASS}
    ),
    "secretary's wrong passphrase": Failing(
        "s", ("get", TITLE), env={"TAKUSU_PASSPHRASE": WRONG_PASS}
    ),
    "bad TOTP seed": Failing(
        "c",
        ("add", "Other", "--password-stdin", "--totp-stdin"),
        input=f"{OTHER_PASSWORD}\n{BAD_SEED}\n",
    ),
    "bad otpauth URI": Failing(
        "c",
        ("add", "Other", "--password-stdin", "--totp-stdin"),
        input=f"{OTHER_PASSWORD}\notpauth://totp/{LABEL}?secret=0189\n",
    ),
    "HOTP URI, --debug": Failing(
        "c",
        ("--debug", "add", "Other", "--password-stdin", "--totp-stdin"),
        traceback=True,
        input=f"{OTHER_PASSWORD}\notpauth://hotp/{LABEL}?secret={SEED}\n",
    ),
    "unparsable URI, --debug (an unexpected error)": Failing(
        "c",
        ("--debug", "add", "Other", "--password-stdin", "--totp-stdin"),
        input=f"{OTHER_PASSWORD}\notpauth://[{LABEL}/x?secret={SEED}\n",
        traceback=True,
    ),
    "missing item": Failing("c", ("get", "Nope")),
    "missing field": Failing("c", ("get", TITLE, "pin")),
    "duplicate title": Failing(
        "c", ("add", TITLE, "--password-stdin"), input=f"{OTHER_PASSWORD}\n"
    ),
    "revoked get": Failing("s", ("get", TITLE)),
    "revoked get, --debug": Failing("s", ("--debug", "get", TITLE), traceback=True),
    "revoked otp": Failing("s", ("otp", TITLE)),
    "revoked show --reveal": Failing("s", ("show", TITLE, "--reveal")),
    "never shared": Failing("s", ("get", "Bank")),
    "member rotates": Failing(
        "s", ("rotate", TITLE, "--password-stdin"), input=f"{OTHER_PASSWORD}\n"
    ),
    "member shares": Failing("s", ("share", TITLE, "--with", "aiko")),
}


def assert_clean(run: Run) -> None:
    """No canary in the output, except what the command line itself said (a title typed)."""
    said = " ".join(run.args).lower()
    leaked = [c for c in found((run.out + run.err).encode()) if c.lower() not in said]
    assert not leaked, f"{leaked} in the output of {run}"


@pytest.mark.parametrize("case", list(FAILING), ids=list(FAILING))
def test_failing_command_prints_no_secret(story: Story, case: str) -> None:
    """A failing command (wrong passphrase, bad seed, missing item, revoked get…): exit != 0,
    nothing on stdout, and no canary in stdout or stderr, tracebacks included."""
    f = FAILING[case]
    run = story.takusu(f.who, *f.args, input=f.input, env=story.env_for(f.who, **f.env))
    assert run.code != 0, run
    assert run.out == "", run
    if f.traceback:
        assert "Traceback" in run.err, run
    assert_clean(run)


def test_debug_traceback_of_a_full_disk_holds_no_secret(story: Story) -> None:
    """`takusu --debug get ITEM > /dev/full`: printing the decrypted password fails with ENOSPC,
    an unexpected error; the traceback on stderr holds no canary. Without --debug the user
    sees one line and no traceback."""
    for debug in (True, False):
        args = (*(["--debug"] if debug else []), "get", TITLE)
        with open("/dev/full", "wb") as full:
            run = story.takusu("c", *args, stdout=full, env=story.env_for("c"))
        assert run.code != 0, run
        assert ("Traceback" in run.err and "No space left" in run.err) is debug, run
        assert "internal error" in run.err or debug, run
        assert_clean(run)


def test_debug_traceback_of_a_damaged_state_cache_holds_no_secret(
    story: Story, tmp_path: Path
) -> None:
    """A state cache without its `state` (after unlocking, the load fails unexpectedly):
    under --debug the traceback holds no canary; without it, no traceback at all."""
    copy = tmp_path / "client-copy"
    shutil.copytree(story.client, copy, ignore=shutil.ignore_patterns("locks"))
    (state_path,) = copy.glob("vaults/*/state.json")
    doc = json.loads(state_path.read_bytes())
    del doc["state"]
    state_path.write_text(json.dumps(doc))
    env = story.env_for("c", TAKUSU_HOME=str(copy))
    for args in (("--debug", "get", TITLE), ("--debug", "list"), ("get", TITLE)):
        run = story.takusu("c", *args, env=env)
        if run.code != 0:  # once takusu rebuilds a damaged cache, there is no failure left
            assert_clean(run)
        if "--debug" not in args:
            assert "Traceback" not in run.err, run


# --- everything written ---------------------------------------------------------------------


def test_no_file_in_either_home_or_vault_folder_holds_a_canary(story: Story) -> None:
    """Every file of both TAKUSU_HOMEs and both vault folders, all bytes, any case, also
    inside base64 tokens (event payloads, the state cache): no canary."""
    leaks = {}
    paths = list(files_under(story.client, story.secretary, story.folder, story.clone))
    assert len(paths) >= 10
    for path in paths:
        hits = found(path.read_bytes())
        if hits:
            leaks[str(path.relative_to(story.root))] = hits
    assert not leaks


def test_git_history_of_the_synced_vault_holds_no_canary(story: Story) -> None:
    """`git log -p --all` and every object (`git cat-file --batch-all-objects`) of the client's
    work tree, the secretary's clone and the bare remote: no canary."""
    for repo in (story.folder, story.clone, story.remote):
        history = story.git(repo, "log", "-p", "--all")
        assert "logs/" in history, "nothing was committed"
        objects = subprocess.run(
            [REAL_GIT, "cat-file", "--batch-all-objects", "--batch"],
            cwd=repo,
            capture_output=True,
            check=True,
            env={"PATH": os.environ["PATH"], "LANG": "C"},
        ).stdout
        assert not found(history.encode()), repo
        assert not found(objects), repo


def _git_children(story: Story) -> list[tuple[list[str], dict[str, str]]]:
    entries, cmdline = [], None
    for line in story.git_log.read_text(errors="replace").splitlines():
        kind, _, rest = line.partition(" ")
        parts = [p for p in rest.split("\x1f") if p]
        if kind == "CMDLINE":
            cmdline = parts
        elif kind == "ENVIRON" and cmdline is not None:
            entries.append((cmdline, dict(p.partition("=")[::2] for p in parts)))
    return entries


def test_git_children_get_no_secret_and_a_minimal_environment(story: Story) -> None:
    """Every git child of `takusu sync` (seen by a fake git first on PATH): no canary and no
    passphrase on its command line or in its environment; no TAKUSU_*, PYTHON* or unrelated
    variables, only what git needs."""
    children = _git_children(story)
    assert len(children) >= 10, "takusu sync ran git fewer times than expected"
    allowed = {"PATH", "HOME", "LANG", "LC_ALL", "SSH_AUTH_SOCK", "XDG_CONFIG_HOME"}
    for cmdline, environ in children:
        flat = "\0".join(cmdline + [f"{k}={v}" for k, v in environ.items()]).encode()
        assert not found(flat), cmdline
        extra = {k for k in environ if k not in allowed and not k.startswith("GIT_")}
        assert not extra, f"git {cmdline[2:4]} got {sorted(extra)}"


def test_retrieval_goes_to_stdout_only_and_is_never_written(story: Story) -> None:
    """The secretary's `get` prints the password on stdout and nowhere else: not on stderr,
    not in the receipt, the mirror, the state cache or any file of their home or clone."""
    (get,) = [r for r in story.runs if r.who == "s" and r.args == ("get", TITLE) and r.code == 0]
    assert get.out == PASSWORD + "\n"
    assert not found(get.err.encode())
    written = [
        p
        for p in files_under(story.secretary, story.clone)
        if found(p.read_bytes(), (PASSWORD, SEED, USERNAME))
    ]
    assert not written


def test_files_are_0600_and_folders_0700_under_umask_000(story: Story) -> None:
    """Every takusu run had umask 000: still every file in both homes and the client's vault
    folder (git pulls included) is 0600 and every folder 0700; so is the secretary's log."""
    wrong = []
    roots = (story.client, story.secretary, story.folder)
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if ".git" in path.relative_to(root).parts or path.is_symlink():
                continue
            mode = stat.S_IMODE(path.lstat().st_mode)
            want = 0o700 if path.is_dir() else 0o600
            if mode != want:
                wrong.append(f"{path.relative_to(story.root)} {oct(mode)}")
    secretary_id = json.loads(story.ok("s", "whoami", "--json").out)["id"]
    own = story.clone / "logs" / f"{secretary_id}.jsonl"
    if stat.S_IMODE(own.stat().st_mode) != 0o600:
        wrong.append(f"{own.relative_to(story.root)} {oct(stat.S_IMODE(own.stat().st_mode))}")
    assert len(list(files_under(*roots))) >= 10
    assert not wrong


def test_private_key_file_readable_by_others_is_refused(story: Story, tmp_path: Path) -> None:
    """identity.key at 0644: every command that would unlock it exits 3 naming the file, and
    prints no secret; `doctor` marks it UNSAFE."""
    copy = tmp_path / "client-copy"
    shutil.copytree(story.client, copy, ignore=shutil.ignore_patterns("locks"))
    (copy / "identity.key").chmod(0o644)
    env = story.env_for("c", TAKUSU_HOME=str(copy))
    for args in (("list",), ("get", TITLE)):
        run = story.takusu("c", *args, env=env)
        assert run.code == 3, run
        assert "identity.key" in run.err and "readable by other users" in run.err, run
        assert_clean(run)


# --- the process: core dumps, prompts, no terminal ------------------------------------------


# An in-process `cli.main` (tests/helpers.run) sets *this* process's core limit to 0/0 for
# good, and an unprivileged process cannot raise it again. So a launcher started at import,
# before any test runs, keeps the limits pytest began with; it starts each process on a
# terminal of its own with core dumps allowed (soft = hard), and reports its exit code.
_LAUNCHER_SOURCE = r"""
import fcntl, json, os, resource, sys, termios
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            tty = os.open(req["tty"], os.O_RDWR)
            fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(tty, fd)
            os.close(tty)
            _, hard = resource.getrlimit(resource.RLIMIT_CORE)
            resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
            os.chdir(req["cwd"])
            os.execve(req["argv"][0], req["argv"], req["env"])
        finally:
            os._exit(127)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def _start_launcher() -> subprocess.Popen[str]:
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER_SOURCE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        assert launcher.stdin is not None and launcher.stdout is not None
        launcher.stdin.close()
        launcher.stdout.close()
        launcher.wait(timeout=10)

    atexit.register(stop)
    return launcher


_LAUNCHER = _start_launcher()


class OnTerminal:
    """A process started by the launcher on a new pseudo-terminal (its controlling tty)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        assert _LAUNCHER.stdin is not None and _LAUNCHER.stdout is not None
        self.master, self.slave = pty.openpty()
        request = {"argv": argv, "env": env, "cwd": str(cwd), "tty": os.ttyname(self.slave)}
        _LAUNCHER.stdin.write(json.dumps(request) + "\n")
        _LAUNCHER.stdin.flush()
        self.pid = int(_LAUNCHER.stdout.readline())
        self.code: int | None = None
        self.seen = bytearray()

    def read_until(self, marker: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} on the terminal; got {bytes(self.seen)!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"terminal closed before {marker!r}; got {bytes(self.seen)!r}"
                self.seen += chunk

    def wait(self, timeout: float = 30) -> int:
        assert _LAUNCHER.stdout is not None
        if self.code is None:
            ready = select.select([_LAUNCHER.stdout], [], [], timeout)[0]
            assert ready, "the process did not finish"
            self.code = int(_LAUNCHER.stdout.readline())
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return self.code

    def close(self) -> None:
        if self.code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait()
        os.close(self.master)
        os.close(self.slave)


def _core_limit(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit in /proc/<pid>/limits")


def test_unlocked_process_has_core_dumps_off_and_prompts_without_echo(
    story: Story, tmp_path: Path
) -> None:
    """`takusu edit ITEM --new-password` on a terminal, started with core dumps allowed:
    while it waits at the hidden prompt (vault unlocked) its core limit is 0/0, the terminal
    does not echo, its command line holds no secret, and the typed password is never shown."""
    home = tmp_path / "home"
    env = story.env_for("c", TAKUSU_HOME=str(home))
    story.ok("c", "init", "--name", "Solo", "--passphrase", env=env)
    story.ok("c", "vault", "create", str(tmp_path / "v"), env=env)
    story.ok("c", "add", "X", "--password-stdin", input="old-password\n", env=env)

    typed = "typed-pw-canary-77dd"
    term = OnTerminal([str(TAKUSU), "edit", "X", "--new-password"], env, tmp_path)
    try:
        term.read_until(b"Password")
        assert _core_limit(term.pid) == ("0", "0"), "core dumps are on while unlocked"
        assert not termios.tcgetattr(term.slave)[3] & termios.ECHO, "the prompt echoes"
        cmdline = Path(f"/proc/{term.pid}/cmdline").read_bytes()
        assert not found(cmdline, (typed, CLIENT_PASS, PASSWORD))
        os.write(term.master, typed.encode() + b"\n")
        term.read_until(b"again to confirm")
        os.write(term.master, typed.encode() + b"\n")
        assert term.wait() == 0, bytes(term.seen)
    finally:
        term.close()
    assert typed.encode() not in term.seen, "the typed password was echoed"
    assert story.ok("c", "get", "X", env=env).out == typed + "\n"


def test_baseline_process_may_dump_core(tmp_path: Path) -> None:
    """Control for the case above: a process started the same way (`sleep`, not takusu) has a
    non-zero core limit, so the 0/0 seen there is takusu's own doing."""
    term = OnTerminal(["/bin/sleep", "5"], {"PATH": os.environ["PATH"]}, tmp_path)
    try:
        deadline = time.monotonic() + 5
        while Path(f"/proc/{term.pid}/exe").resolve().name != "sleep":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        limit = _core_limit(term.pid)
    finally:
        term.close()
    if limit[1] == "0":
        pytest.skip("core dumps were forbidden (hard limit 0) before any test ran")
    assert limit != ("0", "0")


def test_passphrase_on_a_pipe_is_never_read(story: Story, tmp_path: Path) -> None:
    """No TAKUSU_PASSPHRASE and stdin not a terminal: a one-line error (exit 1); the
    passphrase waiting on stdin is not read (the file offset stays 0), not used, not echoed."""
    feed = tmp_path / "feed"
    feed.write_text(CLIENT_PASS + "\n")
    env = story.env_for("c", TAKUSU_PASSPHRASE="")
    assert "TAKUSU_PASSPHRASE" not in env
    with open(feed, "rb") as stdin:
        run = story.takusu("c", "list", stdin=stdin, env=env)
        offset = os.lseek(stdin.fileno(), 0, os.SEEK_CUR)
    assert run.code == 1 and "no terminal" in run.err, run
    assert offset == 0, f"takusu read {offset} bytes of the passphrase from stdin"
    assert run.out == ""
    assert_clean(run)
    piped = story.takusu("c", "get", TITLE, input=CLIENT_PASS + "\n", env=env)
    assert piped.code == 1 and piped.out == "", piped
    assert_clean(piped)


def test_init_without_a_terminal_takes_no_passphrase_from_a_pipe(
    story: Story, tmp_path: Path
) -> None:
    """`init --passphrase` with the passphrase piped in and no TAKUSU_PASSPHRASE: refused
    (exit 1), no key file written, nothing echoed."""
    home = tmp_path / "fresh"
    env = story.env_for("c", TAKUSU_HOME=str(home), TAKUSU_PASSPHRASE="")
    run = story.takusu(
        "c",
        "init",
        "--name",
        "New",
        "--passphrase",
        input=f"{CLIENT_PASS}\n{CLIENT_PASS}\n",
        env=env,
    )
    assert run.code == 1, run
    assert not (home / "identity.key").exists()
    assert_clean(run)


# --- objects in memory ----------------------------------------------------------------------


def test_repr_of_secret_holding_objects_shows_no_key_material() -> None:
    """repr/str/format of Identity, SigningKey, KemKey and a TOTP Code: '<redacted>', and no
    byte of key material in any encoding (raw repr, hex, base64, base64url)."""
    from vault import labels

    identity = Identity.generate("Repr", labels.SUITE_HYBRID)
    secrets_ = [identity.signing.raw(), identity.kem.x25519_raw, identity.kem.mlkem_seed]
    code = totp.current(f"otpauth://totp/x?secret={SEED}", at=1_700_000_000)
    objects = {
        "Identity": identity,
        "SigningKey": identity.signing,
        "KemKey": identity.kem,
        "Code": code,
    }
    for name, obj in objects.items():
        for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}", repr([obj]), repr({"k": obj})):
            assert "redacted" in text, (name, text)
            for secret in secrets_:
                encodings = [
                    repr(secret)[2:-1],
                    secret.hex(),
                    base64.b64encode(secret).decode()[:-4],
                    base64.urlsafe_b64encode(secret).decode()[:-4],
                ]
                assert not any(e and e in text for e in encodings), (name, text)
            assert name != "Code" or code.code not in text, text
