"""The fence around the heavy libraries (STYLE habit 2), checked by reading the imports.

Only vault/crypto.py imports `cryptography`, only vault/keystore.py imports `keyring`,
nothing in vault/ imports `click`; and `takusu --help` loads none of the heavy libraries.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("cryptography", "keyring", "pyotp")

# package -> the only files allowed to import it
FENCE = {
    "cryptography": {"vault/crypto.py"},
    "keyring": {"vault/keystore.py"},
    "pyotp": {"vault/totp.py"},  # the design's totp piece
}


def sources() -> list[Path]:
    files = sorted((ROOT / "vault").rglob("*.py")) + [ROOT / "cli.py"]
    assert len(files) > 5, files
    return files


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import, including importlib / __import__ calls."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.add(str(arg.value).split(".")[0])
    return found


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_import_reader_sees_every_form():
    source = (
        "import keyring.backends\nfrom cryptography.hazmat import x\nfrom . import crypto\n"
        "import importlib\nimportlib.import_module('click.testing')\n__import__('pyotp')\n"
        "def f():\n    import platformdirs\n"
    )
    assert imported_packages(source) == {
        "keyring",
        "cryptography",
        "importlib",
        "click",
        "pyotp",
        "platformdirs",
    }


def test_the_fenced_modules_really_import_their_library():
    # if these move, update FENCE: the fence must name the modules that hold the imports
    assert "cryptography" in imported_packages((ROOT / "vault/crypto.py").read_text())
    assert "keyring" in imported_packages((ROOT / "vault/keystore.py").read_text())
    assert "pyotp" in imported_packages((ROOT / "vault/totp.py").read_text())


@pytest.mark.parametrize("path", sources(), ids=rel)
def test_imports_stay_inside_the_fence(path: Path):
    found = imported_packages(path.read_text(encoding="utf-8"))
    for package, allowed in FENCE.items():
        if package in found:
            assert rel(path) in allowed, f"{rel(path)} imports {package}; only {allowed} may"
    if rel(path).startswith("vault/"):
        assert "click" not in found, f"{rel(path)} imports click; the library must not"


def loaded_heavy_modules(code: str, tmp_path: Path) -> list[str]:
    """Run `code` in a fresh interpreter at the repo root; the heavy modules it loaded."""
    script = (
        "import sys\n"
        f"{code}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TAKUSU_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    return ast.literal_eval(last)


def test_importing_cli_loads_no_heavy_library(tmp_path):
    assert loaded_heavy_modules("import cli", tmp_path) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["get", "--help"],
        ["add", "--help"],
        ["init", "--help"],
        ["otp", "--help"],
        ["vault", "--help"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_help_loads_no_heavy_library(argv, tmp_path):
    code = (
        f"import cli\ntry:\n    cli.main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0"
    )
    assert loaded_heavy_modules(code, tmp_path) == []


def test_the_subprocess_check_can_see_a_heavy_import(tmp_path):
    assert "keyring" in loaded_heavy_modules("import keyring", tmp_path)
