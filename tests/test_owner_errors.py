"""An owner's mistakes at the command line: one `takusu: error:` line, a stable exit code,
nothing on stdout, no traceback, and nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Result, ok, run

TITLES = ["Mail", "Mailbox", "Bank"]


@pytest.fixture
def owner(tmp_path) -> Path:
    """An owner (keyring mode: no KDF cost) with one vault holding three items."""
    home = tmp_path / "owner"
    ok(run(home, "init", "--name", "Olivia"))
    ok(run(home, "vault", "create", str(tmp_path / "vault"), "--name", "main"))
    for title in TITLES:
        ok(run(home, "add", title, "--password-stdin", input=f"{title}-pw\n"))
    return home


def titles(home: Path) -> list[str]:
    return sorted(row["title"] for row in json.loads(ok(run(home, "list", "--json")).out))


def failed(result: Result, code: int) -> str:
    """Assert a clean failure with `code`; return the error line."""
    assert result.code == code, result
    assert result.out == "", result
    assert "Traceback" not in result.err, result
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("takusu: error:")]
    assert len(errors) == 1, result
    assert all(line.startswith("takusu: ") for line in lines), result
    return errors[0]


def test_unknown_vault(owner):
    line = failed(run(owner, "--vault", "nosuch", "list"), 1)
    assert "no vault named 'nosuch'" in line


def test_unknown_vault_from_the_environment(owner):
    line = failed(run(owner, "list", env={"TAKUSU_VAULT": "nosuch"}), 1)
    assert "nosuch" in line


def test_no_vault_at_all(tmp_path):
    home = tmp_path / "fresh"
    ok(run(home, "init", "--name", "Olivia"))
    line = failed(run(home, "list"), 1)
    assert "no vault" in line


def test_get_a_missing_item(owner):
    line = failed(run(owner, "get", "Nothing"), 1)
    assert "no item titled 'Nothing'" in line


def test_get_a_missing_field(owner):
    line = failed(run(owner, "get", "Bank", "username"), 1)
    assert "no username" in line


def test_ambiguous_prefix_lists_the_candidates(owner):
    line = failed(run(owner, "get", "mai"), 1)
    assert "'Mail'" in line and "'Mailbox'" in line
    assert "Bank" not in line
    # an exact title is never ambiguous
    assert ok(run(owner, "get", "Mail")).out == "Mail-pw\n"


def test_add_password_stdin_and_generate_is_a_usage_error(owner):
    line = failed(run(owner, "add", "New", "--password-stdin", "--generate", input="pw\n"), 2)
    assert "--password-stdin" in line and "--generate" in line
    assert titles(owner) == sorted(TITLES)


def test_add_an_existing_title(owner):
    line = failed(run(owner, "add", "Bank", "--password-stdin", input="other\n"), 1)
    assert "already exists" in line
    assert ok(run(owner, "get", "Bank")).out == "Bank-pw\n"


def test_add_password_stdin_with_nothing_piped(owner):
    failed(run(owner, "add", "New", "--password-stdin", input=""), 2)
    assert titles(owner) == sorted(TITLES)


def test_share_with_an_unknown_member(owner):
    line = failed(run(owner, "share", "Bank", "--with", "nobody"), 1)
    assert "no member named 'nobody'" in line


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        ("soon", "cannot read the expiry"),
        ("7x", "cannot read the expiry"),
        ("2001-01-01", "in the past"),
        ("0d", "in the past"),
    ],
)
def test_share_with_a_bad_expiry(owner, expires, words):
    line = failed(run(owner, "share", "Bank", "--with", "nobody", "--expires", expires), 1)
    assert words in line


SEED_LOOKING = "MFRGGZDFMZTWQ2LK"


@pytest.mark.parametrize(
    "seed",
    [
        f"{SEED_LOOKING}1",  # not base32
        SEED_LOOKING[:8],  # too short
        f"otpauth://hotp/x?secret={SEED_LOOKING}&counter=0",
        f"otpauth://totp/x?secret={SEED_LOOKING}&digits=5",
    ],
)
def test_totp_stdin_with_an_invalid_seed(owner, seed):
    r = run(owner, "add", "New", "--password-stdin", "--totp-stdin", input=f"pw\n{seed}\n")
    line = failed(r, 1)
    assert "TOTP" in line or "otpauth" in line
    for secret in (SEED_LOOKING, SEED_LOOKING[:8], "pw\n"):
        assert secret not in r.err
    assert titles(owner) == sorted(TITLES)


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["get", "Bank", "--bogus"],
        ["get"],
        ["vault", "bogus"],
        ["add", "X", "--generate", "4"],
        ["member", "add", "/no/such/card", "--name", "x"],
    ],
    ids=" ".join,
)
def test_bad_command_lines_are_one_line_usage_errors(owner, argv):
    # regression: click's own 'Usage: …' / 'Error: …' block used to bypass the mapping
    r = run(owner, *argv)
    failed(r, 2)
    assert "takusu: hint:" in r.err and "--help" in r.err
    assert titles(owner) == sorted(TITLES)


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["rm", "Nothing"], 1, "no item titled 'Nothing'"),
        (["show", "Nothing"], 1, "no item titled 'Nothing'"),
        (["rotate", "Nothing", "--generate"], 1, "no item titled 'Nothing'"),
        (["edit", "Nothing", "--url", "u"], 1, "no item titled 'Nothing'"),
        (["otp", "Bank"], 1, "no 2FA seed"),
        (["edit", "Bank"], 2, "nothing to change"),
        (["add", "New", "--field", "novalue", "--generate"], 2, "NAME=VALUE"),
        (["revoke", "Bank", "--from", "nobody"], 1, "no member named 'nobody'"),
        (["offboard", "nobody"], 1, "no member named 'nobody'"),
        (["member", "remove", "nobody"], 1, "no member named 'nobody'"),
        (["audit", "--since", "yesterday"], 2, "cannot read the date"),
        (["audit", "--item", "Nothing"], 1, "no item titled 'Nothing'"),
        (["vault", "use", "nosuch"], 1, "no vault named 'nosuch'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_more_owner_mistakes_change_nothing(owner, argv, code, words):
    before = ok(run(owner, "audit", "--json")).out
    line = failed(run(owner, *argv), code)
    assert words in line
    assert titles(owner) == sorted(TITLES)
    assert run(owner, "audit", "--json").out == before


def test_vault_create_twice_in_one_folder(owner, tmp_path):
    line = failed(run(owner, "vault", "create", str(tmp_path / "vault"), "--name", "again"), 1)
    assert "not empty" in line
    names = [v["name"] for v in json.loads(ok(run(owner, "vault", "list", "--json")).out)]
    assert names == ["main"]
