from __future__ import annotations

import keyring
import pytest

from tests.helpers import InMemoryKeyring


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


@pytest.fixture
def no_keyring():
    """No secure keyring on this 'machine': the fail backend, as on a headless server."""
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)
