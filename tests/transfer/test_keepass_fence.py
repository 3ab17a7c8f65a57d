"""The fence around the KDBX library: only the two KeePass modules import pykeepass (and
the lxml and Cryptodome it brings), and only inside functions, so `import vault.transfer`
and the CLI's help stay light. (tests/test_imports.py's FENCE may take these over.)"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.test_imports import ROOT, imported_packages, rel, sources

KDBX_LIBRARIES = ("pykeepass", "lxml", "Cryptodome", "construct", "argon2")
ALLOWED = {"vault/transfer/keepass.py", "vault/transfer/export.py"}


@pytest.mark.parametrize("path", sources(), ids=rel)
def test_only_the_keepass_modules_import_the_kdbx_library(path):
    found = imported_packages(path.read_text(encoding="utf-8"))
    for package in KDBX_LIBRARIES:
        if package in found:
            assert rel(path) in ALLOWED, f"{rel(path)} imports {package}; only {ALLOWED} may"


def test_the_keepass_modules_import_it_only_inside_functions():
    for name in ALLOWED:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert not {m.split(".")[0] for m in names} & set(KDBX_LIBRARIES), name
    assert "pykeepass" in imported_packages((ROOT / "vault/transfer/keepass.py").read_text())
    assert "pykeepass" in imported_packages((ROOT / "vault/transfer/export.py").read_text())


def test_importing_the_keepass_modules_loads_no_kdbx_library(tmp_path):
    script = (
        "import sys, vault.transfer, vault.transfer.keepass, vault.transfer.export\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {KDBX_LIBRARIES!r}))"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
