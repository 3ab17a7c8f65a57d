"""takusu in Japanese: the catalog is complete and sound, the language follows the locale,
and every command's help and the common errors read in Japanese (and still in English).

The catalog checks are scripts/i18n.py's: every message of the source (every `_()`), of
the click command tree and of click itself has a Japanese translation with the same
placeholders, and the shipped .mo is compiled from the .po.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from cli_commands.root import cli
from cli_commands.translate import walk
from tests.helpers import run
from vault import i18n

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_has_a_japanese_translation_with_the_same_placeholders():
    problems = _script().problems()
    assert problems == [], f"{len(problems)} problem(s), first: {problems[:15]}"


def test_the_check_finds_an_untranslated_message_and_a_bad_placeholder(tmp_path, monkeypatch):
    script = _script()
    catalog = script.load("ja")
    first = next(m for m in catalog if m.id and isinstance(m.id, str) and "{" in m.id)
    first.string = "壊れた {nonexistent}"
    monkeypatch.setattr(script, "load", lambda lang: catalog)
    found = script.problems()
    assert any("placeholders differ" in line and repr(first.id) in line for line in found)
    first.string = ""
    assert any(f"no translation of {first.id!r}" in line for line in script.problems())


def test_no_english_text_reaches_a_person_without_a_translation():
    """Text given straight to the terminal helpers or to a takusu error must go through _()
    (else the catalog never sees it and the Japanese reader gets English)."""
    assert _script().untranslated_literals() == []


def test_the_untranslated_text_check_finds_a_bare_message(tmp_path, monkeypatch):
    script = _script()
    bad = tmp_path / "vault" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "class TakusuError(Exception): ...\n"
        "class Oops(TakusuError): ...\n"
        "def f(x):\n"
        "    out(f'Deleted {x}')\n"
        "    out(f'  {x}')\n"  # no words of its own: fine
        "    raise Oops('no such thing', hint=_('fine'))\n"
        "    raise ValueError('a programming error is not for people')\n"
    )
    (tmp_path / "cli_commands").mkdir()
    (tmp_path / "cli.py").write_text("")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert sorted(script.untranslated_literals()) == [
        "vault/bad.py:4: f'Deleted {x}'",
        "vault/bad.py:6: 'no such thing'",
    ]


def test_a_call_of_underscore_on_an_fstring_is_found(tmp_path, monkeypatch):
    script = _script()
    bad = tmp_path / "vault" / "bad.py"
    bad.parent.mkdir()
    bad.write_text('from vault.i18n import _\nx = 1\nprint(_(f"hello {x}"))\n')
    (tmp_path / "cli_commands").mkdir()
    (tmp_path / "cli.py").write_text("")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.non_literal_calls() == [
        ("vault/bad.py:3", "_() of something other than a plain string")
    ]


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL wins, as in POSIX
        ({"LC_MESSAGES": "ja_JP.eucJP"}, "ja"),
        ({"TAKUSU_LANG": "en", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"TAKUSU_LANG": "ja", "LC_ALL": "C"}, "ja"),
        ({}, "en"),
    ],
)
def test_the_language_follows_the_locale_and_takusu_lang(env, lang):
    assert i18n.language(env) == lang


def test_a_translation_with_other_placeholders_falls_back_to_english(monkeypatch):
    import gettext

    table = {
        "Shared {title}": "{secret} を共有しました",  # another name: would raise KeyError
        "Shared {title} with {member}": "{title} を共有しました",  # one dropped: fine
        "Done": "完了 {",  # not a format string at all
        "Shared {title} now": "{title} を今共有しました",
    }

    class Broken(gettext.NullTranslations):
        def gettext(self, message):
            return table.get(message, message)

    monkeypatch.setitem(i18n._state, "catalog", Broken())
    assert i18n._("Shared {title}") == "Shared {title}"
    assert i18n._("Done") == "Done"
    assert i18n._("Shared {title} now") == "{title} を今共有しました"
    # a subset of the names is safe to fill, but a dropped name is still a wrong sentence
    assert i18n._("Shared {title} with {member}") == "Shared {title} with {member}"


# ---- what people read ----------------------------------------------------------------

# Three words of lowercase English in a row, outside quotes, code and option names, is an
# untranslated sentence.
ENGLISH = re.compile(r"\b[a-z]{2,}[,;:]? [a-z]{2,}[,;:]? [a-z]{2,}\b")


def english_left(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        if re.match(r"\s*(使い方|Usage):", line):
            continue  # `takusu vault create [OPTIONS] PATH` is the command itself
        line = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|--?[\w-]+|\S*[/:@]\S*|\b[A-Z_]{2,}\b", " ", line)
        if ENGLISH.search(line):
            found.append(line.strip())
    return found


def test_the_english_detector_sees_a_sentence_and_ignores_code():
    assert english_left("  --expires WHEN  How long the share lasts.") == [
        "How long the share lasts."
    ]
    assert english_left("使い方: takusu share [OPTIONS] TITLE\n  'takusu vault open'") == []


COMMANDS = [" ".join(c.split()[1:]) for c in sorted({cmd.name for cmd in walk(cli)})]


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]

    def visit(command, prefix):
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            visit(sub, [*prefix, name])

    visit(cli, [])
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "takusu")
def test_every_help_reads_in_japanese(tmp_path, path):
    done = run(tmp_path, *path, "--help", env={"TAKUSU_LANG": "ja"})
    assert done.code == 0, done
    assert "使い方:" in done.out
    assert english_left(done.out) == [], done.out


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "takusu")
def test_every_help_still_reads_in_english(tmp_path, path):
    done = run(tmp_path, *path, "--help", env={"TAKUSU_LANG": "en"})
    assert done.code == 0 and done.out.startswith("Usage: "), done
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", done.out)


COMMON_ERRORS = [
    (["get"], 2),  # a missing argument (click's own)
    (["nosuch"], 2),  # an unknown command
    (["share", "GitHub", "--expires", "3m", "--with", "aiko"], 1),  # ambiguous: bad input
    (["list"], 1),  # no identity on this machine yet
    (["vault", "open", "/nonexistent/folder"], None),
    (["member", "add", "/nonexistent.card", "--name", "x"], None),
]


@pytest.mark.parametrize(("args", "code"), COMMON_ERRORS, ids=lambda a: str(a))
def test_common_errors_read_in_japanese(tmp_path, args, code):
    done = run(tmp_path, *args, env={"TAKUSU_LANG": "ja"}, passphrase=None)
    assert done.code != 0 and (code is None or done.code == code), done
    assert done.err.startswith("takusu: エラー: "), done.err
    assert english_left(done.err) == [], done.err


def test_japanese_messages_in_the_story(world):
    listed = world.s("list", env={"LANG": "ja_JP.UTF-8", "TAKUSU_LANG": ""})
    assert listed.code == 0
    missing = world.s("get", "Bnak", env={"TAKUSU_LANG": "ja"})
    assert missing.err.startswith("takusu: エラー: ") and english_left(missing.err) == []
    shared = world.c("share", "Bank", "--with", "aiko", env={"TAKUSU_LANG": "ja"})
    assert shared.code == 0 and "共有しました" in shared.out, shared


JA_DOCS = ["client-guide.md", "secretary-guide.md", "protection.md", "glossary.md"]
# Words the glossary says not to use in Japanese (ログイン and プログラム are fine).
AVOIDED_JA = ("(?<!プ)ログ(?!イン)", "イベント", "既定の保管庫")


@pytest.mark.parametrize("name", JA_DOCS)
def test_the_japanese_docs_use_the_glossary_words_and_their_links_resolve(name):
    """docs/ja/ speaks plainly: no engineering words the glossary says to avoid (outside
    code), and every relative link leads to a file that exists."""
    path = ROOT / "docs" / "ja" / name
    text = path.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```|`[^`]*`", " ", text, flags=re.S)
    if name != "glossary.md":  # the glossary names the words in order to avoid them
        for avoided in (*AVOIDED_JA, "Argon2id", "base32", "receipt"):
            assert not re.search(avoided, prose), (name, avoided)
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (path.parent / target).exists(), (name, target)


def test_every_message_of_the_catalog_uses_the_glossary_words():
    catalog = _script().load("ja")
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            bad = re.search("|".join((*AVOIDED_JA, "記録ファイルラム")), text or "")
            assert not bad, (message.id, text)


def test_the_glossary_names_each_english_term_once():
    text = (ROOT / "docs" / "ja" / "glossary.md").read_text(encoding="utf-8")
    terms = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    terms = [t for t in terms if t not in ("English",)]
    assert len(terms) == len(set(terms)), sorted(t for t in terms if terms.count(t) > 1)
