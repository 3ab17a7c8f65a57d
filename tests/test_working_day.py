"""A secretary's working day: unlock once (a real agent process, the real console script),
the thin path, the clipboard under Xvfb, `run`, completion, many clients without mix-ups."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PASSPHRASE, ok, run, takusu_script
from tests.world import World, build

ROOT = Path(__file__).resolve().parent.parent


RUNTIME: dict[Path, str] = {}  # home -> a short private runtime dir (sockets want short paths)


def runtime(home: Path) -> str:
    if home not in RUNTIME:
        RUNTIME[home] = tempfile.mkdtemp(prefix="tk-", dir="/tmp")
    return RUNTIME[home]


def takusu(
    w: World, home: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """The real console script as a separate process, with no terminal and no passphrase
    in its environment (only the agent can unlock for it)."""
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(w.root),
        "TAKUSU_HOME": str(home),
        "XDG_RUNTIME_DIR": runtime(home),
        **env,
    }
    return subprocess.run(
        [takusu_script(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
    )


@pytest.fixture
def day(tmp_path) -> Iterator[World]:
    """The story's world in passphrase mode, and the secretary's agent stopped afterwards."""
    w = build(tmp_path, key_mode="passphrase")
    yield w
    for home in (w.client, w.secretary):
        takusu(w, home, "lock")
        shutil.rmtree(RUNTIME.pop(home, "/nonexistent"), ignore_errors=True)


def unlock(w: World, home: Path) -> None:
    done = takusu(w, home, "unlock", TAKUSU_PASSPHRASE=PASSPHRASE)
    assert done.returncode == 0 and "Unlocked" in done.stdout, done


def test_unlock_once_then_commands_need_no_passphrase_until_lock(day):
    w = day
    locked = takusu(w, w.secretary, "get", "GitHub")
    assert locked.returncode == 1 and "passphrase" in locked.stderr
    unlock(w, w.secretary)
    for _ in range(3):
        got = takusu(w, w.secretary, "get", "GitHub", "--reason", "invoices")
        assert got.returncode == 0 and got.stdout == w.password + "\n", got
    assert "Unlocked for Aiko" in takusu(w, w.secretary, "status").stdout
    assert takusu(w, w.secretary, "lock").stdout.startswith("Locked")
    assert takusu(w, w.secretary, "get", "GitHub").returncode == 1
    assert "Locked" in takusu(w, w.secretary, "status").stdout
    receipts = [r for r in json.loads(ok(w.c("audit", "--json")).out) if r["type"] == "retrieve"]
    assert len(receipts) == 3 and all(r["reason"] == "invoices" for r in receipts)


def test_the_agent_gives_the_same_errors_and_exit_codes(day):
    w = day
    without = [takusu(w, w.secretary, *args, TAKUSU_PASSPHRASE=PASSPHRASE) for args in CASES]
    unlock(w, w.secretary)
    with_agent = [takusu(w, w.secretary, *args) for args in CASES]
    for before, after in zip(without, with_agent, strict=True):
        assert (before.returncode, before.stdout, before.stderr) == (
            after.returncode,
            after.stdout,
            after.stderr,
        ), (before, after)


CASES = [
    ["get", "Nope"],
    ["get", "GitHub", "pin"],
    ["show", "GitHub"],
    ["add", "X", "--generate"],
    ["list", "--json"],
    ["otp", "Bank"],
]


def test_the_owner_writes_through_the_agent_with_stdin_and_prompts_refused_without_tty(day):
    w = day
    unlock(w, w.client)
    added = takusu(w, w.client, "add", "Shop", "--password-stdin", stdin="shop-canary\n")
    assert added.returncode == 0, added
    assert ok(w.c("get", "Shop", passphrase=PASSPHRASE)).out.strip() == "shop-canary"
    typed = takusu(w, w.client, "member", "add", str(w.root / "nothing.card"), "--name", "x")
    assert typed.returncode != 0 and "Traceback" not in typed.stderr


def test_the_thin_path_imports_no_heavy_library(day):
    w = day
    unlock(w, w.secretary)
    probe = (
        "import sys, cli\n"
        "try:\n    cli.main(['get', 'GitHub'])\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'keyring', 'pyotp', 'click', 'platformdirs'))\n"
        "print(code, heavy, file=sys.stderr)\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "TAKUSU_HOME": str(w.secretary),
        "XDG_RUNTIME_DIR": runtime(w.secretary),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.stdout == w.password + "\n", done
    assert done.stderr.strip().splitlines()[-1] == "0 []", done.stderr[-500:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("cryptography", "keyring", "pyotp")}
    # nor the stdlib modules that cost a command most of its time on a slow machine (beyond
    # what this interpreter loads before any code runs: an editable install's hook may)
    before = subprocess.run(
        [sys.executable, "-c", "import sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    baseline = set(ast.literal_eval(before.stdout))
    light = {"typing", "pathlib", "datetime", "gettext", "string", "dataclasses", "platformdirs"}
    light |= {"struct", "socket", "enum"}
    assert (imported - baseline) & light == set(), sorted((imported - baseline) & light)


# Run before the launcher: an exit handler, a thread still running, and an object whose
# finalizer says when Python's finalization clears this module.
_EXIT_PROBE = """\
import atexit, os, runpy, sys, threading, time
class Tell:
    def __del__(self, write=os.write):
        write(2, b"finalized\\n")
tell = Tell()
atexit.register(lambda: print("exit handler", file=sys.stderr))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread done", file=sys.stderr))).start()
"""


def test_the_launcher_skips_finalization_but_not_what_exit_must_do(day):
    """bin/takusu ends without Python's finalization (clearing every module: 2.5 ms of a
    command the agent answers, 35 of a one-shot `get` at 10,000 items): the answer, its
    exit code and the client's own errors are all there, threads are waited for and exit
    handlers run, as Python's exit does first; only the finalizers of the teardown do not."""
    w = day
    launcher = ROOT / "bin" / "takusu"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(w.root),
        "TAKUSU_HOME": str(w.secretary),
        "XDG_RUNTIME_DIR": runtime(w.secretary),
        "PYTHONPATH": str(ROOT),
    }

    def launch(
        *args: str, last: str | None = None, **more: str
    ) -> subprocess.CompletedProcess[str]:
        code = _EXIT_PROBE + (last or f"runpy.run_path({str(launcher)!r}, run_name='__main__')\n")
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env={**env, **more},
            timeout=60,
            check=False,
        )
        assert "thread done" in done.stderr and "exit handler" in done.stderr, done
        return done

    assert "finalized" in launch(last="sys.exit(0)\n").stderr  # the probe sees a teardown
    unlock(w, w.secretary)
    got = launch("get", "GitHub")
    assert (got.returncode, got.stdout) == (0, w.password + "\n"), got
    assert "finalized" not in got.stderr
    missing, expected = launch("get", "Nope"), takusu(w, w.secretary, "get", "Nope")
    assert missing.returncode == expected.returncode != 0
    assert expected.stderr in missing.stderr and "finalized" not in missing.stderr
    folder = Path(runtime(w.secretary)) / "takusu"
    folder.chmod(0o755)  # the client itself refuses the socket folder, and says why
    try:
        refused = launch("get", "GitHub")
    finally:
        folder.chmod(0o700)
    assert refused.returncode == 3 and "takusu: error:" in refused.stderr, refused
    assert "finalized" not in refused.stderr and w.password not in refused.stdout
    assert takusu(w, w.secretary, "lock").returncode == 0
    here = launch("get", "GitHub", TAKUSU_PASSPHRASE=PASSPHRASE)  # no agent: run here
    assert (here.returncode, here.stdout) == (0, w.password + "\n"), here
    assert "finalized" not in here.stderr
    failed = launch("get", "Nope", TAKUSU_PASSPHRASE=PASSPHRASE)
    assert failed.returncode == expected.returncode and expected.stderr in failed.stderr


def test_a_killed_agent_releases_nothing_and_the_next_command_runs_here(day):
    w = day
    unlock(w, w.secretary)
    status = takusu(w, w.secretary, "status").stdout
    pid = int(status.split("agent pid ")[1].split()[0])
    os.kill(pid, signal.SIGKILL)
    after = takusu(w, w.secretary, "get", "GitHub")
    assert after.returncode == 1 and w.password not in after.stdout + after.stderr
    assert "passphrase" in after.stderr  # the stale socket was cleaned up: asked here
    assert "Locked" in takusu(w, w.secretary, "status").stdout


def test_an_agent_of_another_version_is_stopped_and_the_command_runs_here(day, monkeypatch):
    w = day
    unlock(w, w.secretary)
    import vault
    from cli_commands.forward import forward

    monkeypatch.setenv("TAKUSU_HOME", str(w.secretary))
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime(w.secretary))
    monkeypatch.setattr(vault, "__version__", "0.0.0-other")
    assert forward(["get", "GitHub"]) is None
    assert "Locked" in takusu(w, w.secretary, "status").stdout


# --- clipboard ---------------------------------------------------------------------------------


def test_get_clip_copies_after_the_receipt_and_clears_when_still_ours(day, display):
    w = day
    env = {"DISPLAY": display, "TAKUSU_CLIP_SECONDS": "2", "TAKUSU_PASSPHRASE": PASSPHRASE}
    copied = takusu(w, w.secretary, "get", "GitHub", "--clip", **env)
    assert copied.returncode == 0 and copied.stdout == "" and "Copied" in copied.stderr, copied
    paste = ["xclip", "-o", "-selection", "clipboard"]
    shown = subprocess.run(paste, env={"DISPLAY": display}, capture_output=True, timeout=10)
    assert shown.stdout.decode() == w.password
    receipts = [r for r in json.loads(ok(w.c("audit", "--json")).out) if r["type"] == "retrieve"]
    assert receipts and receipts[-1]["fields"] == ["password"]
    import time

    time.sleep(3.5)
    cleared = subprocess.run(paste, env={"DISPLAY": display}, capture_output=True, timeout=10)
    assert cleared.stdout.decode() == ""


def test_no_clipboard_tool_is_a_clear_error_and_no_receipt(day):
    w = day
    refused = takusu(w, w.secretary, "get", "GitHub", "--clip", TAKUSU_PASSPHRASE=PASSPHRASE)
    assert refused.returncode == 1 and "install" in refused.stderr, refused
    assert not [r for r in json.loads(ok(w.c("audit", "--json")).out) if r["type"] == "retrieve"]


# --- run ---------------------------------------------------------------------------------------


def test_run_gives_the_secret_to_the_child_masked_and_passes_its_exit_code(day):
    w = day
    child = "import os, sys; print('pw=' + os.environ['PW']); sys.exit(7)"
    done = takusu(
        w,
        w.secretary,
        "run",
        "--env",
        "PW=GitHub",
        "--",
        sys.executable,
        "-c",
        child,
        TAKUSU_PASSPHRASE=PASSPHRASE,
    )
    assert done.returncode == 7 and w.password not in done.stdout, done
    assert "pw=********" in done.stdout
    plain = takusu(
        w,
        w.secretary,
        "run",
        "--no-masking",
        "--env",
        "PW=GitHub",
        "--",
        sys.executable,
        "-c",
        child,
        TAKUSU_PASSPHRASE=PASSPHRASE,
    )
    assert f"pw={w.password}" in plain.stdout
    rows = [r for r in json.loads(ok(w.c("audit", "--json")).out) if r["type"] == "retrieve"]
    assert [r["reason"] for r in rows] == [f"run: {Path(sys.executable).name}"] * 2


def test_run_resolves_takusu_references_in_the_environment(day):
    w = day
    unlock(w, w.secretary)  # and through the agent, which writes the receipts
    child = "import os; print(os.environ['PW'] == os.environ['EXPECT'])"
    done = takusu(
        w,
        w.secretary,
        "run",
        "--no-masking",
        "--",
        sys.executable,
        "-c",
        child,
        PW="takusu://acme/GitHub/password",
        EXPECT=w.password,
    )
    assert done.returncode == 0 and done.stdout.strip() == "True", done


# --- completion --------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_completion_script(shell):
    script = ok(run(Path("/nonexistent"), "completion", shell, passphrase=None)).out
    assert "_TAKUSU_COMPLETE" in script and len(script) > 200


def test_completion_names_vaults_and_members_without_unlocking(world):
    env = {"_TAKUSU_COMPLETE": "bash_complete", "COMP_WORDS": "takusu --vault a", "COMP_CWORD": "2"}
    vaults = run(world.secretary, env=env, passphrase=None)
    assert "plain,acme" in vaults.out
    env = {
        "_TAKUSU_COMPLETE": "bash_complete",
        "COMP_WORDS": "takusu share GitHub --with a",
        "COMP_CWORD": "4",
    }
    members = run(world.client, env=env, passphrase=None)
    assert "plain,aiko" in members.out
    env = {"_TAKUSU_COMPLETE": "bash_complete", "COMP_WORDS": "takusu get G", "COMP_CWORD": "2"}
    assert "GitHub" not in run(world.secretary, env=env, passphrase=None).out  # no agent


# --- many clients, no mix-ups ------------------------------------------------------------------


def test_with_two_clients_the_vault_that_answered_is_named(world):
    world.second_client()
    got = ok(world.s("get", "GitHub"))
    assert got.out == world.password + "\n" and "[acme]" in got.err
    shop = ok(world.s("get", "beta/Shop"))
    assert shop.out == "shop-pw\n" and "[beta]" in shop.err
    assert ok(world.s("get", "Shop", "--vault", "beta")).out == "shop-pw\n"


def test_a_title_in_another_of_my_vaults_is_named_not_silently_missing(world):
    world.second_client()
    refused = world.s("get", "Shop")
    assert refused.code == 1 and "it is in the vault 'beta'" in refused.err, refused
    assert "beta/Shop" in refused.err


def test_vault_forget_drops_a_vault_and_refuses_my_own_without_yes(world):
    world.second_client()
    ok(world.s("vault", "forget", "beta"))
    assert "beta" not in ok(world.s("vault", "list")).out
    refused = world.c("vault", "forget", "acme")
    assert refused.code == 1 and "--yes" in refused.err
    assert "acme" in ok(world.c("vault", "list")).out


def test_after_offboarding_the_member_is_told_her_access_ended(world):
    ok(world.c("offboard", "aiko"))
    listed = ok(world.s("list"))
    assert listed.out == "" and "ended" in listed.err and "vault forget" in listed.err


def test_opening_a_vault_before_being_added_says_so(bare):
    bare.open_as(bare.secretary)
    listed = ok(bare.s("list"))
    assert "has not added you" in listed.err
