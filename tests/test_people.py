"""For the people takusu is for: text typed by a Japanese input method, local times, columns
that line up with Japanese titles, Excel, passwords for picky sites, and the rough edges a
new user hit (prompts that say what they ask, confirmations, Ctrl-C, a pasted card, a
vault folder reached through a link, a mistyped title)."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import PASSPHRASE, ok, on_tty, read_pty, run, takusu_script
from tests.world import World, build
from vault.text import width

GA_COMPOSED = "ガス料金"  # ガ as one code point
GA_DECOMPOSED = unicodedata.normalize("NFD", GA_COMPOSED)  # カ + the combining dakuten


@pytest.fixture
def w(tmp_path) -> World:
    return build(tmp_path)


# ---- text in another Unicode form, full-width codes ---------------------------------------


def test_a_title_typed_in_another_unicode_form_is_the_same_title(w):
    assert GA_DECOMPOSED != GA_COMPOSED
    ok(w.c("add", GA_DECOMPOSED, "--password-stdin", input="gas-pw\n"))
    assert ok(w.c("get", GA_COMPOSED)).out == "gas-pw\n"
    assert ok(w.c("get", GA_DECOMPOSED)).out == "gas-pw\n"
    again = w.c("add", GA_COMPOSED, "--password-stdin", input="other\n")
    assert again.code == 1 and "already exists" in again.err
    listed = ok(w.c("list", "--json")).out
    assert GA_COMPOSED in listed and GA_DECOMPOSED not in listed  # stored composed


def test_member_names_compare_like_titles(w):
    ok(w.c("revoke", "GitHub", "--from", "AIKO"))  # case does not matter
    card = w.root / "aiko.card"
    card.write_text(ok(w.s("card")).out)
    clash = w.member_add(card, "Aiko", w.code(w.secretary))
    assert clash.code != 0 and "already" in clash.err


def full_width(code: str) -> str:
    """The code as a Japanese input method types it: full-width digits, ideographic spaces."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else "\u3000" for c in code)


def test_a_safety_code_in_full_width_digits_matches(tmp_path):
    w = build(tmp_path, share=False)
    card = w.root / "aiko.card"
    card.write_text(ok(w.s("card")).out)
    typed = full_width(w.code(w.secretary))
    assert not any(c in "0123456789 " for c in typed)  # every digit and space full-width
    wrong = full_width("1" * 30)  # normalising must not make a wrong code match
    refused = w.member_add(card, "aiko", wrong)
    assert refused.code == 1 and "does not match" in refused.err
    ok(w.member_add(card, "aiko", typed))


def test_a_recovery_code_in_full_width_letters_restores(tmp_path):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Kenji"))
    kit = tmp_path / "kit.txt"
    code = ok(run(home, "recovery-kit", str(kit))).out.strip().splitlines()[0]
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else "\u3000" for c in code.lower())
    fresh = tmp_path / "new"
    done = run(fresh, "init", "--restore", str(kit), input=wide + "\n")
    assert done.code == 0, done


# ---- columns, Excel, generated passwords ----------------------------------------------------


def test_columns_line_up_by_display_width(w):
    ok(w.c("add", "三井住友銀行", "--username", "yamada", "--password-stdin", input="p\n"))
    ok(w.c("add", "freee", "--username", "keiri", "--password-stdin", input="p\n"))
    lines = ok(w.c("list")).out.splitlines()
    starts = []
    for line, user in zip(lines, ["acme-bank", "keiri", "acme-admin", "yamada"], strict=True):
        before = line[: line.index(user)]
        starts.append(width(before))
    assert len(set(starts)) == 1, lines  # every user name starts in the same column


def test_an_excel_csv_starts_with_a_bom_and_plain_csv_does_not(w):
    excel = ok(w.c("audit", "--csv", "--excel")).out
    assert excel.startswith("\ufeffat,actor,action")
    plain = ok(w.c("audit", "--csv")).out
    assert plain.startswith("at,actor,action")
    alone = w.c("audit", "--excel", passphrase=None)
    assert alone.code == 2 and "--csv" in alone.err


def test_generated_passwords_for_sites_that_refuse_symbols(w):
    ok(w.c("add", "Plain", "--generate", "20", "--no-symbols"))
    plain = ok(w.c("get", "Plain")).out.strip()
    assert len(plain) == 20 and plain.isalnum() and plain.isascii()
    ok(w.c("add", "Picky", "--generate", "30", "--chars", "abcdef0123456789-"))
    picky = ok(w.c("get", "Picky")).out.strip()
    assert len(picky) == 30 and set(picky) <= set("abcdef0123456789-")
    weak = w.c("add", "Weak", "--generate", "10", "--chars", "ab")
    assert weak.code == 1 and "too easy to guess" in weak.err and "at least 64" in weak.err
    alone = w.c("add", "Alone", "--no-symbols", "--password-stdin", input="x\n")
    assert alone.code == 2 and "go with --generate" in alone.err
    both = w.c("add", "Both", "--generate", "--no-symbols", "--chars", "abc")
    assert both.code == 2 and "not both" in both.err
    default = ok(w.c("add", "Strong", "--generate"))
    assert "generated" in default.out
    strong = ok(w.c("get", "Strong")).out.strip()
    assert len(strong) == 24 and not strong.isalnum()  # the default still has symbols


# ---- local time -----------------------------------------------------------------------------


def test_times_are_local_with_the_offset_and_utc_on_request(w):
    tokyo = {"TZ": "Asia/Tokyo"}
    shown = ok(w.c("show", "GitHub", env=tokyo)).out
    assert "(+09:00)" in shown and "Z\n" not in shown
    in_utc = ok(w.c("show", "GitHub", "--utc", env=tokyo)).out
    assert "(+00:00)" in in_utc
    audit = ok(w.c("audit", env=tokyo)).out.splitlines()
    assert all("(+09:00)" in line.split("  ")[0] for line in audit), audit[:3]
    shared = ok(w.c("share", "Bank", "--with", "aiko", "--expires", "2026/12/31", env=tokyo))
    assert "until 2026-12-31 23:59 (+09:00)" in shared.out
    machine = ok(w.c("audit", "--json", env=tokyo)).out
    assert "+09:00" not in machine  # what scripts read stays UTC


# ---- the rough edges ------------------------------------------------------------------------


def test_a_mistyped_title_suggests_the_nearest(w):
    missing = w.c("get", "Bnak")
    assert missing.code == 1
    assert "did you mean 'Bank'?" in missing.err and "takusu list" in missing.err
    far = w.c("get", "Zzzzzz")
    assert "did you mean" not in far.err and "takusu list" in far.err
    member = w.s("get", "GitHbu")
    assert "did you mean 'GitHub'?" in member.err
    assert "Bank" not in member.err  # never a title she cannot read


def test_bare_takusu_prints_the_help_and_succeeds(tmp_path):
    done = run(tmp_path, passphrase=None)
    assert done.code == 0 and done.out.startswith("Usage: takusu") and done.err == ""


def test_a_script_cannot_delete_by_a_title_prefix_without_yes(w):
    refused = w.c("rm", "Ban")
    assert refused.code == 2 and "only the start of 'Bank'" in refused.err
    assert "Bank" in ok(w.c("list")).out
    ok(w.c("rm", "Ban", "--yes"))
    assert "Bank" not in ok(w.c("list")).out
    ok(w.c("rm", "GitHub"))  # a whole title in a script: no question


@pytest.fixture
def tty_world(tmp_path) -> World:
    """A world whose identities a separate process can unlock (passphrase mode)."""
    return build(tmp_path, key_mode="passphrase")


def on_terminal(w: World, home: Path, args: list[str], answers: list[tuple[str, str]]):
    return on_tty(home, args, answers, {"TAKUSU_PASSPHRASE": PASSPHRASE})


def test_destructive_commands_ask_first_on_a_terminal(tty_world):
    w = tty_world
    code, out = on_terminal(w, w.client, ["rm", "Ban"], [("?", "n")])
    assert code == 1 and "Delete 'Bank' (the title starting 'Ban')?" in out
    assert "nothing was changed" in out
    code, out = on_terminal(w, w.client, ["offboard", "aiko"], [("?", "n")])
    assert code == 1 and "Take back everything from aiko and remove them?" in out
    code, out = on_terminal(w, w.client, ["member", "remove", "aiko", "--revoke-all"], [("?", "")])
    assert code == 1  # the default is no
    assert "aiko" in ok(w.c("member", "list")).out
    code, out = on_terminal(w, w.client, ["rm", "Bank"], [("Delete 'Bank'?", "y")])
    assert code == 0 and "Deleted Bank" in out


def test_prompts_say_what_they_ask_and_check_before_confirming(tmp_path):
    home = tmp_path / "h"
    code, out = on_tty(
        home,
        ["init", "--name", "Pat", "--passphrase"],
        [
            ("New takusu passphrase:", "short"),  # refused before any confirmation
            ("New takusu passphrase:", "a long passphrase here"),
            ("Type it again to confirm:", "a long passphrase typo"),
            ("New takusu passphrase:", "a long passphrase here"),
            ("Type it again to confirm:", "a long passphrase here"),
        ],
    )
    assert code == 0, out
    assert out.index("at least 8 characters") < out.index("Type it again to confirm:")
    assert "the two entries differ" in out
    assert "Error: The two entered values do not match" not in out  # takusu's own words
    # "Password for Shop" and "2FA seed for Shop": test_interactive.py
    code, out = on_tty(home, ["whoami"], [("takusu passphrase:", "a long passphrase here")])
    assert code == 0 and "Pat" in out


def _terminal_process(home: Path, args: list[str], stdin: int | None = None):
    """takusu with a pseudo-terminal as its controlling terminal and stdout/stderr (stdin
    a pipe when `stdin` is given), in its own session, as a person's terminal would be."""
    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def become_terminal_owner() -> None:
        os.close(os.open(name, os.O_RDWR))  # the first tty a session leader opens is its own
        # as a terminal's own process has it: a test run started in the background (`&`
        # in a script) ignores Ctrl-C, and an ignored SIGINT is inherited across exec
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home.parent),
        "TAKUSU_HOME": str(home),
        "TERM": "dumb",
        "TAKUSU_LANG": "en",
        "PYTHONFAULTHANDLER": "1",  # a hang a test gives up on shows its stack (SIGABRT)
    }
    proc = subprocess.Popen(
        [takusu_script(), *args],
        stdin=subprocess.PIPE if stdin is not None else slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=become_terminal_owner,  # noqa: PLW1509 - opens the terminal, resets SIGINT
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, wanted: bytes, seen: bytes = b"", timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        chunk = read_pty(master)
        if chunk == b"":
            break
        seen += chunk or b""
    return seen


def test_ctrl_c_at_a_prompt_exits_130(tmp_path):
    w = build(tmp_path, key_mode="passphrase")
    proc, master = _terminal_process(w.client, ["list"])
    try:
        seen = _read_until(master, b"takusu passphrase:")
        assert b"takusu passphrase:" in seen, seen
        proc.send_signal(signal.SIGINT)
        # read while it exits: a process writing to a terminal nobody reads can block
        seen = _read_until(master, b"interrupted", seen, timeout=20)
        if proc.poll() is None and b"interrupted" not in seen:  # say where it hangs
            proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
            seen = _read_until(master, b"Fatal Python error", seen, timeout=5)
            seen = _read_until(master, b"\x00", seen, timeout=3)
            pytest.fail(f"no exit after Ctrl-C; its terminal: {seen.decode(errors='replace')}")
        assert proc.wait(timeout=20) == 130
        assert b"takusu: error: interrupted" in seen and b"Traceback" not in seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()  # reaped here, not by the garbage collector in a later test


def test_a_pasted_card_leaves_the_passphrase_to_the_terminal(tmp_path):
    w = build(tmp_path, key_mode="passphrase", share=False)
    card = ok(w.s("card")).out.encode()
    args = ["member", "add", "-", "--name", "aiko", "--safety-code", w.code(w.secretary)]
    proc, master = _terminal_process(w.client, args, stdin=1)
    try:
        assert proc.stdin is not None
        proc.stdin.write(card)
        proc.stdin.close()  # the card came on stdin; the passphrase must come from the tty
        seen = _read_until(master, b"takusu passphrase:")
        assert b"takusu passphrase:" in seen, seen
        os.write(master, PASSPHRASE.encode() + b"\n")
        seen = _read_until(master, b"Added aiko", seen, timeout=30)
        assert proc.wait(timeout=30) == 0
        assert b"Added aiko" in seen and PASSPHRASE.encode() not in seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_file_without_a_card_is_a_user_error_with_a_hint(w, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Hello! Here is my card, I think.\n")
    done = w.c("member", "add", str(note), "--name", "x", "--safety-code", "1" * 30)
    assert done.code == 1, done
    assert "no takusu card found" in done.err and "takusu card" in done.err.splitlines()[1]


def test_a_vault_folder_reached_through_a_link_works_but_links_inside_do_not(tmp_path):
    real = tmp_path / "CloudStorage" / "Dropbox"
    real.mkdir(parents=True)
    link = tmp_path / "Dropbox"
    link.symlink_to(real)
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Kenji"))
    ok(run(home, "vault", "create", str(link / "acme"), "--name", "acme"))
    ok(run(home, "add", "Mail", "--password-stdin", input="pw\n"))
    assert (real / "acme" / "vault.json").exists()
    assert ok(run(home, "get", "Mail")).out == "pw\n"
    logs = real / "acme" / "logs"
    (logs / ("f" * 32 + ".jsonl")).symlink_to(tmp_path / "elsewhere")
    done = ok(run(home, "list"))
    assert "Mail" in done.out  # a link inside the vault is reported, never followed


def test_unlock_reads_15m_as_minutes_as_the_design_writes_it():
    from datetime import timedelta

    from cli_commands.day import _duration
    from vault.errors import UsageError

    assert _duration("15m", "--idle") == timedelta(minutes=15)
    assert _duration("１５ｍ", "--idle") == timedelta(minutes=15)  # typed full-width
    assert _duration("15min", "--idle") == _duration("15分", "--idle") == timedelta(minutes=15)
    assert _duration("8h", "--max") == timedelta(hours=8)
    with pytest.raises(UsageError):
        _duration("0m", "--idle")


@pytest.mark.parametrize(
    "args",
    [
        ["add", "Two\nlines", "--generate"],
        ["add", "Bell\x07", "--generate"],
        ["member", "add", "-", "--name", "ai\nko"],
        ["member", "add", "-", "--name", "aiko\n"],  # `$` alone would let this one through
    ],
    ids=["newline-title", "bell-title", "newline-member-name", "trailing-newline-name"],
)
def test_control_characters_in_titles_and_names_are_refused_with_their_position(w, args):
    card = ok(w.s("card")).out if args[0] == "member" else None
    refused = w.c(*args, input=card)
    assert refused.code == 1, refused
    assert "position" in refused.err, refused.err
    assert "control character" in refused.err or "'\\n' at position" in refused.err, refused.err


def test_an_id_or_base64_with_a_trailing_newline_is_refused():
    from vault.encoding import b64d
    from vault.errors import IntegrityError, Malformed
    from vault.fsutil import check_id

    with pytest.raises(IntegrityError):
        check_id("ab" * 16 + "\n")
    assert check_id("ab" * 16) == "ab" * 16
    with pytest.raises(Malformed):
        b64d("QUJD\n")


def test_sharing_again_says_what_it_replaced(w):
    first = ok(w.c("share", "Bank", "--with", "aiko", "--expires", "7d"))
    assert "replaces" not in first.out + first.err
    again = ok(w.c("share", "Bank", "--with", "aiko", "--fields", "password"))
    assert "this replaces the earlier share (all of it, until" in again.err, again
    third = ok(w.c("share", "Bank", "--with", "aiko"))
    assert "this replaces the earlier share (password, no expiry)" in third.err, third


def test_the_audit_says_once_under_the_table_whose_word_members_rows_are(w):
    ok(w.s("get", "GitHub", "--reason", "invoice"))
    ok(w.s("get", "GitHub", "username"))
    lines = ok(w.c("audit")).out.splitlines()
    note = "Rows by members are as reported by the member's own takusu."
    assert lines[-1] == note and lines[-2] == "" and lines.count(note) == 1
    assert not any("reported by" in line for line in lines[:-1])
    assert note not in ok(w.c("audit", "--member", "aiko", "--since", "2999-01-01")).out


def test_since_reads_a_duration_back_from_now(w):
    ok(w.s("get", "GitHub", "--reason", "invoice"))
    recent = ok(w.c("audit", "--since", "7d")).out
    assert "invoice" in recent
    assert "invoice" in ok(w.c("audit", "--since", "1週間")).out
    assert "Retrievals: 1" in ok(w.c("report", "--since", "7d")).out
    assert w.c("audit", "--since", "3m").code == 2  # minutes or months? refused


def test_show_gives_expiry_and_exposure_in_local_time(w):
    tokyo = {"TZ": "Asia/Tokyo"}
    ok(w.c("share", "Bank", "--with", "aiko", "--expires", "2026/12/31"))
    ok(w.s("get", "Bank"))
    ok(w.c("revoke", "Bank", "--from", "aiko"))
    shown = ok(w.c("show", "Bank", env=tokyo)).out
    exposed = next(line for line in shown.splitlines() if line.startswith("EXPOSED"))
    assert "(+09:00)" in exposed and not any(c.endswith("Z;") for c in exposed.split()), exposed
    ok(w.c("share", "GitHub", "--with", "aiko", "--expires", "2026/12/31", env=tokyo))
    shared = next(
        line for line in ok(w.c("show", "GitHub", env=tokyo)).out.splitlines() if "until" in line
    )
    assert "until 2026-12-31 23:59 (+09:00)" in shared, shared


def test_vault_list_is_in_name_order_and_create_names_the_real_folder(tmp_path):
    w = build(tmp_path, share=False)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    made = ok(w.c("vault", "create", str(link / "zeta"), "--name", "zeta")).out
    assert str(real / "zeta") in made and str(link) not in made
    ok(w.c("vault", "create", str(tmp_path / "x" / ".." / "beta"), "--name", "beta"))
    names = [
        row["name"] for row in __import__("json").loads(ok(w.c("vault", "list", "--json")).out)
    ]
    assert names == sorted(names, key=str.casefold) == ["acme", "beta", "zeta"]


def test_list_keeps_the_exposed_mark_while_a_seen_2fa_seed_is_not_rotated(tmp_path):
    w = build(tmp_path)
    ok(w.s("get", "GitHub", "totp"))  # she saw the seed (shared in full)
    ok(w.c("revoke", "GitHub", "--from", "aiko"))
    ok(w.c("rotate", "GitHub", "--generate"))  # the password only
    assert "EXPOSED to aiko" in ok(w.c("list")).out
    ok(w.c("rotate", "GitHub", "--totp-stdin", input="JBSWY3DPEHPK3PXQ\n"))
    assert "EXPOSED" not in ok(w.c("list")).out


def test_offboarding_says_a_seed_was_readable_or_seen_as_it_was(tmp_path):
    w = build(tmp_path)
    ok(w.s("get", "GitHub"))  # the password only: the seed was readable, not reported read
    readable = ok(w.c("offboard", "aiko")).out
    assert "2FA seed readable:" in readable and "2FA seed seen:" not in readable
    other = build(tmp_path / "other")
    ok(other.s("get", "GitHub", "totp"))
    assert "2FA seed seen:" in ok(other.c("offboard", "aiko")).out


def _cell_by_cell(rows: list[list[str]], gap: str = "  ") -> str:
    """The table as it was first written: every cell escaped, measured and padded alone."""
    from vault.text import escape, pad, width

    shown = [[escape(cell) for cell in row] for row in rows]
    widths: list[int] = []
    for row in shown:
        for n, cell in enumerate(row[:-1]):
            if n == len(widths):
                widths.append(0)
            widths[n] = max(widths[n], width(cell))
    return "\n".join(
        gap.join([pad(cell, widths[n]) for n, cell in enumerate(row[:-1])] + row[-1:]).rstrip()
        for row in shown
    )


CELL = st.text(
    alphabet=st.sampled_from(list("abc XYZ-{}") + ["銀", "ｶ", "é", "\u0301", "\x1b", "\u202e"]),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.lists(st.lists(CELL, min_size=n, max_size=n), max_size=6)
    )
)
def test_the_column_at_a_time_table_prints_what_the_cell_at_a_time_one_did(rows):
    """`table` measures and pads a column of printable ASCII in one go (a list of 10,000
    rows spent its time cell by cell): the lines must be exactly the old ones, escapes and
    wide characters included."""
    from cli_commands.term import table_text

    assert table_text(rows) == _cell_by_cell(rows)
