"""Fixtures of the import tests; the builders are in tests/transfer/builders.py."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def tools():
    """Fail, never skip, when a tool the test runs is missing: the import of a pass store
    is tested against the real pass and gpg (apt: pass gnupg; keepassxc for its CLI)."""

    def need(*names: str) -> None:
        missing = [name for name in names if shutil.which(name) is None]
        if missing:
            pytest.fail(f"install {', '.join(missing)} (apt) to run this test")

    return need
