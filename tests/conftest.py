from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import keyring
import pytest

from tests.helpers import InMemoryKeyring
from tests.world import World, build


@pytest.fixture(autouse=True)
def memory_keyring():
    """Every test starts with an empty in-memory keyring as the OS keyring."""
    previous = keyring.get_keyring()
    backend = InMemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("TAKUSU_PASSPHRASE", raising=False)
    monkeypatch.delenv("TAKUSU_VAULT", raising=False)
    monkeypatch.setenv("TAKUSU_HOME", str(tmp_path / "default-home"))
    monkeypatch.setenv("TAKUSU_LANG", "en")  # whatever this machine's locale; ja is asked for
    # every state handed out from the in-process memo is compared with the file it claims
    # to hold (vault/store/mirror.py): a state changed without forgetting the memo fails
    monkeypatch.setenv("TAKUSU_CHECK_MEMO", "1")
    from vault import i18n

    i18n.use("en")  # library calls speak English unless a test asks otherwise


@pytest.fixture
def world(tmp_path) -> World:
    """Client and secretary homes, one shared folder; GitHub shared with 'aiko', Bank not."""
    return build(tmp_path)


@pytest.fixture
def bare(tmp_path) -> World:
    """Client with GitHub and Bank; the secretary has an identity but is not a member yet."""
    return build(tmp_path, share=False)


@pytest.fixture
def no_keyring():
    """No secure keyring on this 'machine': the fail backend, as on a headless server."""
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def secret_service_env():
    """The environment that reaches a real, unlocked Secret Service: the one this run was
    started in (TAKUSU_TEST_SECRET_SERVICE=1), else a private one started for the run."""
    from tests import secretservice

    if os.environ.get("TAKUSU_TEST_SECRET_SERVICE") == "1":
        yield {}
        return
    missing = secretservice.missing_tools()
    assert not missing, f"install {' '.join(missing)} (scripts/test.sh installs them)"
    with secretservice.running() as env:
        yield {k: env[k] for k in ("DBUS_SESSION_BUS_ADDRESS",)}


@pytest.fixture
def secret_service(secret_service_env, monkeypatch):
    for key, value in secret_service_env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A private X display (`:N`); Xvfb picks a free N and tells us once it accepts clients."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as numbers:
        number = numbers.readline().strip().decode()  # written when the server is ready
    assert number.isdigit(), "Xvfb did not start"
    yield f":{number}"
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=10)
