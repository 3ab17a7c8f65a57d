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
    files += sorted((ROOT / "cli_commands").glob("*.py"))
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


def loaded_heavy_modules(code: str, tmp_path: Path, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Run `code` in a fresh interpreter at the repo root; the heavy modules it loaded."""
    script = (
        "import sys\n"
        f"{code}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))\n"
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


# Standard modules that cost a command milliseconds and are needed only where a time is
# shown in a zone (clock.local_zone, codewindow.parse_zone) or months are counted.
ONLY_WHERE_USED = ("zoneinfo", "calendar")


@pytest.mark.parametrize("argv", [["--help"], ["get", "--help"], ["add", "--help"]], ids=" ".join)
def test_commands_load_the_zone_modules_only_where_a_zone_is_read(argv, tmp_path):
    code = (
        f"import cli\ntry:\n    cli.main({argv!r})\nexcept SystemExit as e:\n"
        "    assert e.code == 0\n"
        "import vault.state, vault.session, vault.sharing, vault.clock, vault.codewindow"
    )
    assert loaded_heavy_modules(code, tmp_path, ONLY_WHERE_USED) == []
    shown = "import vault.clock\nvault.clock.local_zone()"
    assert "zoneinfo" in loaded_heavy_modules(shown, tmp_path, ONLY_WHERE_USED)  # it can see it


def test_the_subprocess_check_can_see_a_heavy_import(tmp_path):
    assert "keyring" in loaded_heavy_modules("import keyring", tmp_path)


def test_the_launcher_turns_the_collector_off_before_the_command_runs(tmp_path):
    """bin/takusu (the installed command) runs a command with the cyclic collector off,
    the way the agent runs its loop: opening a large vault builds a few hundred thousand
    small objects, and the collector walking them is a fifth of a one-shot `get`."""
    launcher = ROOT / "bin" / "takusu"
    code = (
        "import gc, runpy, cli\n"
        "assert gc.isenabled()\n"
        "cli.main = lambda **_: print('collector on' if gc.isenabled() else 'collector off')\n"
        f"runpy.run_path({str(launcher)!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "collector off\n"


def test_the_launcher_ends_well_without_a_stdout_or_a_stderr():
    """bin/takusu ends without Python's finalization (cli._leave): a descriptor that was
    closed when it started (cron, a supervisor) is skipped, as Python's own exit skips
    it, not an error after the command has run."""
    launcher = ROOT / "bin" / "takusu"
    for closed in ("1", "2"):
        done = subprocess.run(
            ["sh", "-c", f'exec "$0" "$1" --version {closed}>&-', sys.executable, str(launcher)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (closed, done)
        assert "Traceback" not in done.stderr
        assert ("takusu" in done.stdout) == (closed == "2"), done


# --- the layer map in ARCHITECTURE.md ---------------------------------------------------------


def layer_table(text: str) -> dict[str, int]:
    """module name (relative to vault, a package standing for all it holds) -> layer."""
    block = text.split("<!-- layers: the import test reads this table -->", 1)[1]
    block = block.split("<!-- /layers -->", 1)[0]
    layers: dict[str, int] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for name in cells[1].split(","):
            assert name.strip() not in layers, f"{name.strip()} is in two layers"
            layers[name.strip()] = int(cells[0])
    assert layers, "ARCHITECTURE.md has no layer table"
    return layers


def module_name(path: Path) -> str:
    """vault/store/arrivals.py -> 'store.arrivals'; vault/store/__init__.py -> 'store'."""
    parts = list(path.relative_to(ROOT / "vault").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def vault_imports(path: Path) -> set[str]:
    """The vault modules a file imports anywhere in it (inside functions too), relative names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import a, b
                found.update(".".join(filter(None, [target, a.name])) for a in node.names)
            else:
                found.add(target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vault."):
            found.add(str(node.module)[len("vault.") :])
        elif isinstance(node, ast.Import):
            found.update(a.name[len("vault.") :] for a in node.names if a.name.startswith("vault."))
    known = {module_name(p) for p in (ROOT / "vault").rglob("*.py")}
    return {m for m in found if m in known and m != name}


def layer_of(module: str, layers: dict[str, int]) -> int:
    """The layer of a module: its own row, or its package's."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in layers:
            return layers[".".join(parts[:end])]
    raise AssertionError(f"vault/{module} is in no layer of ARCHITECTURE.md's table")


def graph() -> dict[str, set[str]]:
    return {module_name(p): vault_imports(p) for p in sorted((ROOT / "vault").rglob("*.py"))}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def upward(edges: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    return sorted(
        f"{a} (layer {layer_of(a, layers)}) imports {b} (layer {layer_of(b, layers)})"
        for a, targets in edges.items()
        for b in targets
        if layer_of(b, layers) > layer_of(a, layers)
    )


def test_every_vault_module_is_on_the_map():
    layers = layer_table((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    for module in graph():
        if module:  # vault/__init__.py itself
            layer_of(module, layers)


def test_imports_only_point_down_the_layers():
    layers = layer_table((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    edges = {m: t for m, t in graph().items() if m}
    assert upward(edges, layers) == []


def test_the_import_graph_has_no_cycle():
    assert find_cycle(graph()) is None


def test_the_layer_checks_can_fail():
    layers = {"low": 0, "high": 1}
    assert upward({"low": {"high"}, "high": set()}, layers) == [
        "low (layer 0) imports high (layer 1)"
    ]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    source = "def f():\n    from .session import Session\n"
    probe = ROOT / "vault" / "_probe_for_test.py"
    probe.write_text(source)
    try:
        assert vault_imports(probe) == {"session"}
    finally:
        probe.unlink()


def test_every_error_class_says_when_it_is_raised_and_is_raised_somewhere():
    """Each class in vault/errors.py has a docstring, and something in vault/ or cli.py
    raises it (or it is a base others derive from)."""
    import inspect

    from vault import errors

    code = "\n".join(p.read_text(encoding="utf-8") for p in sources())
    classes = [
        c
        for c in vars(errors).values()
        if inspect.isclass(c) and issubclass(c, Exception) and c.__module__ == errors.__name__
    ]
    assert len(classes) > 10
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} has no docstring"
        bases = [c for c in classes if c is not cls and issubclass(c, cls)]
        used = code.count(f"{cls.__name__}(") - code.count(f"class {cls.__name__}(")
        assert bases or used > 0 or cls.__name__ == "BadImport", f"nothing raises {cls.__name__}"
