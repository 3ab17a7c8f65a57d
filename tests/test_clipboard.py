"""The clipboard for real: a private Xvfb display, xclip and xsel, the detached clearer.

Needs the Debian packages xvfb, xclip and xsel; the tests fail (they do not skip) without
them, since CI installs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vault import clipboard, cliptools
from vault.errors import BadInput, UserError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def x11(display: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for name in ("WAYLAND_DISPLAY", cliptools.TOOL_ENV, clipboard.SECONDS_ENV, "XAUTHORITY"):
        monkeypatch.delenv(name, raising=False)
    return display


def paste(tool: str = "xclip") -> bytes:
    argv = cliptools.TOOLS[tool].paste
    done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
    return done.stdout if done.returncode == 0 else b""


def user_copies(text: str) -> None:
    """What another program does: take the clipboard with its own value."""
    subprocess.run(
        [shutil.which("xclip") or "xclip", "-selection", "clipboard"],
        input=text.encode(),
        env={"DISPLAY": os.environ["DISPLAY"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=10,
        check=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took until `condition()` held; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


def a_secret() -> str:
    return "pw-" + secrets.token_urlsafe(12) + "-パス"


def processes(display: str) -> dict[int, tuple[bytes, bytes]]:
    """(cmdline, environ) of every process of ours that works on `display`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"DISPLAY={display}".encode() in environ.split(b"\0"):
            found[int(entry.name)] = (cmdline, environ)
    return found


def open_files(pid: int) -> list[str]:
    """What `pid` has open: paths, or "pipe" (sockets and pipes by kind)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        found.append(target.split(":", 1)[0] if target.startswith("pipe:") else target)
    return found


def clearers(display: str) -> list[int]:
    return [pid for pid, (cmd, _) in processes(display).items() if b"vault.clipboard" in cmd]


def test_a_copy_is_on_the_clipboard_and_cleared_after_the_delay(monkeypatch, x11):
    monkeypatch.setenv(clipboard.SECONDS_ENV, "2")
    value = a_secret()
    before = datetime.now(UTC)
    copied = clipboard.copy(value)
    assert paste() == value.encode()
    assert (copied.tool, copied.seconds) == ("xclip", 2)
    assert copied.clears_at is not None
    assert 1.5 < (copied.clears_at - before).total_seconds() < 3
    took = wait_until(lambda: paste() == b"", timeout=8)
    assert took > 1.2  # cleared by the timer, not at once
    wait_until(lambda: not clearers(x11), timeout=5)


def test_what_the_user_copied_meanwhile_is_left_alone(x11):
    clipboard.copy(a_secret(), seconds=1)
    user_copies("the user's own text")
    time.sleep(0.3)
    wait_until(lambda: not clearers(x11), timeout=6)  # the clearer has looked and gone
    assert paste() == b"the user's own text"


def test_a_second_copy_of_the_same_value_restarts_the_timer(x11):
    value = a_secret()
    clipboard.copy(value, seconds=2)
    time.sleep(1.2)
    second = time.monotonic()
    clipboard.copy(value, seconds=2)
    # the first clearer's time is up at 0.8 s from here; the second's at 2 s
    time.sleep(1.3)
    assert paste() == value.encode()
    took = wait_until(lambda: paste() == b"", timeout=6)
    assert time.monotonic() - second > 1.6, took
    wait_until(lambda: not clearers(x11), timeout=5)


def test_xsel_as_the_tool(monkeypatch, x11):
    monkeypatch.setenv(cliptools.TOOL_ENV, "xsel")
    value = a_secret()
    copied = clipboard.copy(value, seconds=1)
    assert copied.tool == "xsel"
    assert paste("xsel") == paste("xclip") == value.encode()
    wait_until(lambda: paste("xsel") == b"", timeout=6)
    wait_until(lambda: not clearers(x11), timeout=5)


def test_xsel_is_chosen_when_xclip_is_missing(monkeypatch, tmp_path):
    only_xsel = tmp_path / "bin"
    only_xsel.mkdir()
    (only_xsel / "xsel").symlink_to(shutil.which("xsel") or "missing")
    monkeypatch.setenv("PATH", str(only_xsel))
    assert cliptools.choose_tool().name == "xsel"


def test_wayland_comes_first_and_falls_back_to_x11(monkeypatch, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("wl-copy", "xclip"):
        (fake / name).write_text("#!/bin/sh\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("PATH", str(fake))
    assert cliptools.choose_tool().name == "wl-copy"
    (fake / "wl-copy").unlink()
    assert cliptools.choose_tool().name == "xclip"  # XWayland


def test_no_tool_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(cliptools.TOOL_ENV, "none")
    with pytest.raises(UserError, match="no clipboard tool found: install xclip or xsel"):
        clipboard.copy("x")
    monkeypatch.delenv(cliptools.TOOL_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    with pytest.raises(UserError, match="install xclip or xsel"):
        clipboard.copy("x")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(UserError, match=r"install wl-clipboard \(Wayland\)"):
        clipboard.copy("x")
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("DISPLAY")
    with pytest.raises(UserError) as caught:
        clipboard.copy("x")
    assert caught.value.message == (
        "no clipboard tool found: install xclip (X11) or wl-clipboard (Wayland)"
    )
    assert "no display" in (caught.value.hint or "")


def test_a_forced_tool_must_exist_and_be_known(monkeypatch, tmp_path):
    monkeypatch.setenv(cliptools.TOOL_ENV, "klipper")
    with pytest.raises(BadInput, match="must be one of"):
        clipboard.copy("x")
    monkeypatch.setenv(cliptools.TOOL_ENV, "pbcopy")
    with pytest.raises(UserError, match="clipboard tool not found: pbcopy"):
        clipboard.copy("x")


def test_the_tool_reports_a_display_it_cannot_open(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":9999")
    with pytest.raises(UserError, match="xclip could not copy: .*display"):
        clipboard.copy(a_secret())


@pytest.mark.parametrize("raw", ["soon", "-1", "1.5"])
def test_a_bad_delay_is_refused(monkeypatch, raw):
    monkeypatch.setenv(clipboard.SECONDS_ENV, raw)
    with pytest.raises(BadInput, match=clipboard.SECONDS_ENV):
        clipboard.copy("x")


def test_zero_never_clears_but_makes_older_clearers_stale(x11):
    value = a_secret()
    clipboard.copy(value, seconds=1)
    state = clipboard.state_dir() / clipboard.GENERATION_FILE
    first = state.read_bytes()
    copied = clipboard.copy(value, seconds=0)
    assert (copied.seconds, copied.clears_at) == (0, None)
    assert state.read_bytes() != first
    assert state.stat().st_mode & 0o777 == 0o600
    wait_until(lambda: not clearers(x11), timeout=5)
    assert paste() == value.encode()  # the older clearer saw it was stale
    user_copies("done")


def test_nothing_secret_in_argv_or_environment_of_the_tool_or_the_clearer(monkeypatch, x11):
    monkeypatch.setenv("TAKUSU_PASSPHRASE", "passphrase-in-parent-env")
    value = a_secret()
    clipboard.copy(value, seconds=2)
    state = clipboard.state_dir() / clipboard.GENERATION_FILE
    seen = processes(x11)
    tools = [p for p, (cmd, _) in seen.items() if cmd.startswith(shutil.which("xclip").encode())]
    assert tools and clearers(x11)
    for cmdline, environ in seen.values():
        for secret in (value.encode(), b"passphrase-in-parent-env"):
            assert secret not in cmdline
            assert secret not in environ
        names = {kv.split(b"=", 1)[0].decode() for kv in environ.split(b"\0") if kv}
        assert names <= set(cliptools.TOOL_ENV_KEYS)
    for pid in clearers(x11):
        assert os.getsid(pid) != os.getsid(0)  # detached: a new session
        assert set(open_files(pid)) <= {"/dev/null", "pipe", str(state)}
    wait_until(lambda: paste() == b"", timeout=6)
    wait_until(lambda: not clearers(x11), timeout=5)


def test_a_clearer_that_cannot_start_fails_closed(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(UserError, match="clipboard was cleared again"):
        clipboard.copy(a_secret(), seconds=5)
    assert paste() == b""


def test_the_clearer_refuses_a_bad_job():
    done = subprocess.run(
        [sys.executable, "-m", "vault.clipboard", "--clear"],
        input=b'{"v": 1, "tool": "xclip", "seconds": 0}',
        cwd=ROOT,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2


def test_the_generation_lives_under_takusu_home_without_a_runtime_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TAKUSU_HOME", str(tmp_path / "home"))
    assert clipboard.state_dir() == tmp_path / "home" / "run"
