"""A private, unlocked Secret Service (gnome-keyring on its own D-Bus session) for tests.

Started once per test run in a temp dir: the developer's own keyring and session bus are
never touched. Needs Debian's dbus-daemon and gnome-keyring (scripts/test.sh installs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NEEDS = {
    "dbus-daemon": "dbus-daemon",
    "gnome-keyring-daemon": "gnome-keyring",
    "dbus-send": "dbus-bin",
}


def missing_tools() -> list[str]:
    """The Debian packages to install before the Secret Service tests can run."""
    return sorted({pkg for tool, pkg in NEEDS.items() if shutil.which(tool) is None})


def _query(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["dbus-send", "--session", "--print-reply=literal", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout


def _ready(env: dict[str, str]) -> bool:
    owned = _query(
        env,
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        "string:org.freedesktop.secrets",
    )
    if "true" not in owned:
        return False
    locked = _query(
        env,
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets/aliases/default",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
    )
    return "false" in locked


@contextmanager
def running() -> Iterator[dict[str, str]]:
    """Start a bus and an unlocked keyring; yield the environment that reaches them."""
    tmp = Path(tempfile.mkdtemp(prefix="takusu-secret-service-"))
    run_dir, data_dir = tmp / "run", tmp / "data"
    run_dir.mkdir(mode=0o700)
    data_dir.mkdir(mode=0o700)
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1", "--nopidfile"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    address, pid = bus.stdout.split()[:2]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_RUNTIME_DIR": str(run_dir),
        "XDG_DATA_HOME": str(data_dir),
    }
    try:
        subprocess.run(
            ["gnome-keyring-daemon", "--daemonize", "--unlock", "--components=secrets"],
            input="throwaway-test-password",
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        deadline = time.monotonic() + 15
        while not _ready(env):
            assert time.monotonic() < deadline, "the test Secret Service did not come up in 15 s"
            time.sleep(0.1)
        yield env
    finally:
        _stop_keyring(run_dir)
        os.kill(int(pid), signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_keyring(run_dir: Path) -> None:
    """gnome-keyring-daemon has no pid file: find the one started for this run by its
    environment (XDG_RUNTIME_DIR) and stop it."""
    marker = f"XDG_RUNTIME_DIR={run_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "gnome-keyring-d":
                continue
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGTERM)
        except OSError:
            continue
