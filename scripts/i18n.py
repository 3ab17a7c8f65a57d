"""takusu's message catalogs, with Babel (a test dependency; takusu itself reads the
compiled `.mo` with the standard library's gettext).

    .venv/bin/python scripts/i18n.py update      # extract the messages, add new ones to each .po
    .venv/bin/python scripts/i18n.py merge F...  # take translations from other .po files
    .venv/bin/python scripts/i18n.py compile     # .po -> .mo (shipped in the package)
    .venv/bin/python scripts/i18n.py check       # what tests/test_i18n.py checks
    .venv/bin/python scripts/i18n.py check --only vault/session.py cli_commands/  # a part

The messages come from three places: every `_()`, `N_()` and `ngettext()` in vault/,
cli_commands/ and cli.py (Babel's Python extractor); the help texts of the click command
tree (walked, as `gen_cli_docs.py` does: what click shows is the msgid); and click's own
messages (extracted from the installed click).
"""

from __future__ import annotations

import ast
import io
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vault.i18n import DOMAIN, LOCALE_DIR, fields  # noqa: E402

LANGUAGES = ("ja",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
SOURCES = ("vault", "cli_commands")


def po_path(lang: str) -> Path:
    return Path(LOCALE_DIR) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return Path(LOCALE_DIR) / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _add(catalog: Catalog, msgid: str | tuple[str, str], where: str, line: int) -> None:
    if not msgid or (isinstance(msgid, tuple) and not msgid[0]):
        return
    known = catalog.get(msgid)
    if known is None:
        catalog.add(msgid, locations=[(where, line)])
    elif (where, line) not in known.locations:
        known.locations.append((where, line))


def _extract(folder: Path, prefix: str) -> Iterable[tuple[str, int, str | tuple[str, str]]]:
    method_map = [("**.py", "python")]
    options = {"**.py": {"encoding": "utf-8"}}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(folder), method_map, options, keywords=KEYWORDS, comment_tags=()
    ):
        yield f"{prefix}{filename}", line, message


def help_messages() -> Iterable[tuple[str, int, str]]:
    """The help texts of every command and option, as click shows them in English."""
    os.environ.setdefault("TAKUSU_LANG", "en")
    from cli_commands.root import cli
    from cli_commands.translate import help_msgid, short_help_msgid, walk

    for command in walk(cli):
        module = getattr(command.callback, "__module__", "cli_commands.root")
        where = module.replace(".", "/") + ".py"  # the module that defines the command
        text = help_msgid(command)
        if text:
            yield where, 0, text
            yield where, 1, short_help_msgid(command)
        for param in command.params:
            helptext = getattr(param, "help", None)
            if helptext:
                yield where, 2, helptext


def template() -> Catalog:
    """Every message takusu can show, with where it comes from."""
    catalog = Catalog(domain=DOMAIN, project="takusu", charset="utf-8")
    for folder in SOURCES:
        for where, line, message in _extract(ROOT / folder, f"{folder}/"):
            _add(catalog, message, where, line)
    cli_py = ROOT / "cli.py"
    from babel.messages.extract import extract_python

    with cli_py.open("rb") as handle:
        for line, _funcname, message, _comments in extract_python(handle, KEYWORDS, (), {}):
            _add(catalog, message, "cli.py", line)
    for where, line, message in help_messages():
        _add(catalog, message, where, line)
    import click

    for where, line, message in _extract(Path(click.__file__).parent, "click/"):
        if "_winconsole" in where or "_termui_impl" in where and message == "d":
            continue
        _add(catalog, message, where, line)
    return catalog


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="takusu", charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


HEADER = """\
# Japanese messages of takusu: the terms are chosen once, in docs/ja/glossary.md.
# Edit the translations here; `scripts/i18n.py update` adds new messages and
# `scripts/i18n.py compile` writes the .mo beside this file."""
STAMP = datetime(2026, 12, 1, tzinfo=UTC)  # fixed, so that an update makes no churn


def save(catalog: Catalog, lang: str) -> None:
    catalog.fuzzy = False
    catalog.project, catalog.version = "takusu", ""
    catalog.header_comment = HEADER
    catalog.last_translator = "takusu developers"
    catalog.language_team = "Japanese"
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.msgid_bugs_address = ""
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, include_previous=False)
    path.write_bytes(buffer.getvalue())


def update() -> None:
    fresh = template()
    for lang in LANGUAGES:
        catalog = load(lang)
        catalog.update(fresh, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        save(catalog, lang)
        print(f"{po_path(lang).relative_to(ROOT)}: {len(catalog)} messages")


def merge(paths: list[str]) -> None:
    """Copy translations from other .po files (a helper's part) into the catalog; where
    they differ from one the catalog has, the catalog's is kept and the message named."""
    for lang in LANGUAGES:
        catalog = load(lang)
        clashes = []
        for path in paths:
            with open(path, "rb") as handle:
                part = read_po(handle, locale=lang)
            for message in part:
                if not message.id or not _translated(message.string):
                    continue
                mine = catalog.get(message.id)
                if mine is None:
                    catalog.add(message.id, message.string, locations=message.locations)
                elif _translated(mine.string) and mine.string != message.string:
                    clashes.append(message.id)
                else:
                    mine.string = message.string
                    mine.flags.discard("fuzzy")
        for clash in clashes:  # the catalog's own translation stays; say so, to review
            print(f"kept the catalog's translation of {clash!r}", file=sys.stderr)
        save(catalog, lang)


def _translated(string: object) -> bool:
    """A message has a translation: a non-empty string, or every plural form filled in."""
    if isinstance(string, (tuple, list)):
        return bool(string) and all(string)
    return bool(string)


def compiled(lang: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, load(lang), use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> None:
    for lang in LANGUAGES:
        mo_path(lang).write_bytes(compiled(lang))
        print(f"wrote {mo_path(lang).relative_to(ROOT)}")


def _ids(message: object) -> list[str]:
    msgid = message.id  # type: ignore[attr-defined]
    return list(msgid) if isinstance(msgid, tuple) else [msgid]


def _strings(message: object) -> list[str]:
    string = message.string  # type: ignore[attr-defined]
    return list(string) if isinstance(string, tuple) else [string]


def problems(only: list[str] | None = None) -> list[str]:
    """Everything wrong with the catalogs: untranslated or fuzzy messages, placeholders
    that differ from the English, a .mo that is not compiled from its .po, calls of `_`
    on anything but a plain string. With `only`, just the messages used in files whose
    path starts with one of those prefixes (and no .mo check)."""
    found = [
        f"{where}: {why}"
        for where, why in non_literal_calls()
        if only is None or where.startswith(tuple(only))
    ]
    fresh = template()
    for lang in LANGUAGES:
        catalog = load(lang)
        for message in fresh:
            if not message.id:
                continue
            if only is not None and not any(
                where.startswith(tuple(only)) for where, _line in message.locations
            ):
                continue
            mine = catalog.get(message.id)
            if mine is None or not all(_strings(mine)) or mine.fuzzy:
                found.append(f"{lang}: no translation of {message.id!r}")
                continue
            wanted = frozenset().union(*(fields(text) for text in _ids(message)))
            for text in _strings(mine):
                plural = isinstance(message.id, tuple)  # one Japanese form for both
                fine = fields(text) <= wanted if plural else fields(text) == wanted
                if not fine or "!" in fields(text):
                    found.append(f"{lang}: placeholders differ in {message.id!r}: {text!r}")
        if only is not None:
            continue
        if not mo_path(lang).exists() or mo_path(lang).read_bytes() != compiled(lang):
            found.append(f"{lang}: {mo_path(lang).name} is stale: run scripts/i18n.py compile")
    return found


# Where text reaches a person: the terminal helpers and click's prompts, and the errors
# takusu raises (every TakusuError subclass, found in the source).
SINKS = {"out", "info", "say", "warn", "hint", "error", "echo", "secho", "confirm", "prompt"}
SINKS |= {"ask", "hidden", "confirm_destructive"}


def _source_files() -> list[Path]:
    return [ROOT / "cli.py"] + [p for folder in SOURCES for p in (ROOT / folder).rglob("*.py")]


def _error_classes(trees: list[ast.Module]) -> set[str]:
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases.setdefault(node.name, set()).update(names)
    found = {"TakusuError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def _english(node: ast.expr) -> bool:
    """A string literal (or an f-string's own text) holds a word other than 'takusu'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        texts = [node.value]
    elif isinstance(node, ast.JoinedStr):
        texts = [str(v.value) for v in node.values if isinstance(v, ast.Constant)]
    else:
        return False
    return any(re.search(r"[A-Za-z]", text.replace("takusu", "")) for text in texts)


def untranslated_literals() -> list[str]:
    """English text given straight to the terminal or to a takusu error, not through _():
    each as `path:line: text`."""
    parsed = [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in _source_files()]
    errors = _error_classes([tree for _path, tree in parsed])
    found = []
    for path, tree in parsed:
        for node in ast.walk(tree):
            call = node.exc if isinstance(node, ast.Raise) else node
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if isinstance(func, ast.Attribute) and ast.unparse(func.value) != "click":
                name = name if isinstance(node, ast.Raise) else ""  # zlib.error(), protocol.error()
            if isinstance(node, ast.Raise) and name in errors:
                args = call.args[:1] + [k.value for k in call.keywords if k.arg == "hint"]
            elif not isinstance(node, ast.Raise) and name in SINKS:
                args = list(call.args[:1])
            else:
                continue
            for arg in args:
                if _english(arg):
                    text = ast.unparse(arg)[:80]
                    found.append(f"{path.relative_to(ROOT)}:{arg.lineno}: {text}")
    return found


def non_literal_calls() -> list[tuple[str, str]]:
    """`_(f"...")` or `_(name)` cannot be extracted: each is a place and why."""
    bad = []
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in ("_", "N_", "ngettext"):
                continue
            count = 2 if node.func.id == "ngettext" else 1
            args = node.args[:count]
            if len(args) < count or not all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args
            ):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if path.name == "i18n.py" or path.name == "translate.py":
                    continue  # the functions themselves, passing msgids through
                bad.append((where, f"{node.func.id}() of something other than a plain string"))
    return bad


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    if argv[0] == "update":
        update()
    elif argv[0] == "merge":
        merge(argv[1:])
    elif argv[0] == "compile":
        compile_all()
    elif argv[0] == "check":
        only = argv[argv.index("--only") + 1 :] if "--only" in argv else None
        found = problems(only)
        for line in found:
            print(line)
        print(f"{len(found)} problem(s)")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
