"""The owner's everyday flow through the CLI, with a keyring-held key and with a passphrase."""

from __future__ import annotations

import json
import os
import stat

import pyotp
import pytest

from tests.helpers import ok, run
from tests.world import SEED

CANARIES = {
    "title": "CanaryTitle-7f3a",
    "username": "canary-user-91b2",
    "password": "canary-pass-0c4d",
    "url": "https://canary-url-55e1.example",
    "note": "canary-note-a8f0",
    "field": "canary-field-3d3d",
    "seed": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
}


@pytest.fixture(params=["keyring", "passphrase"])
def mode(request):
    if request.param == "passphrase":
        request.getfixturevalue("no_keyring")
    return request.param


def test_owner_flow(tmp_path, mode):
    home, folder = tmp_path / "home", tmp_path / "vault"
    ok(run(home, "init", "--name", "Owner"))
    assert json.loads(ok(run(home, "whoami", "--json")).out)["key_mode"] == mode
    ok(run(home, "vault", "create", str(folder), "--name", "mine"))
    ok(
        run(
            home,
            "add",
            "GitHub",
            "--username",
            "me",
            "--url",
            "https://github.com",
            "--password-stdin",
            "--totp-stdin",
            "--note",
            "main account",
            "--field",
            "pin=1234",
            "--tag",
            "work",
            input=f"pw-one\notpauth://totp/GitHub:me?secret={SEED}\n",
        )
    )
    ok(run(home, "add", "Gmail", "--generate", "32"))
    listing = ok(run(home, "list")).out
    assert "GitHub" in listing and "Gmail" in listing
    rows = json.loads(ok(run(home, "list", "--json")).out)
    assert {r["title"] for r in rows} == {"GitHub", "Gmail"}
    assert ok(run(home, "get", "GitHub")).out == "pw-one\n"
    assert ok(run(home, "get", "git", "username")).out == "me\n"  # prefix, case-insensitive
    assert ok(run(home, "get", "GitHub", "pin")).out == "1234\n"
    assert ok(run(home, "get", "GitHub", "notes")).out == "main account\n"
    generated = ok(run(home, "get", "Gmail")).out.strip()
    assert len(generated) == 32
    shown_code = ok(run(home, "otp", "GitHub"))
    code = shown_code.out.strip()  # only the code on stdout (`takusu otp X | pbcopy`)
    assert pyotp.TOTP(SEED).verify(code, valid_window=1) and "left" in shown_code.err
    shown = ok(run(home, "show", "GitHub")).out
    assert "pw-one" not in shown and "(hidden)" in shown
    assert "pw-one" in ok(run(home, "show", "GitHub", "--reveal")).out
    ok(
        run(
            home,
            "edit",
            "GitHub",
            "--password-stdin",
            "--url",
            "https://github.com/login",
            input="pw-two\n",
        )
    )
    assert ok(run(home, "get", "GitHub")).out == "pw-two\n"
    assert ok(run(home, "get", "GitHub", "url")).out == "https://github.com/login\n"
    ok(run(home, "rm", "Gmail"))
    gone = run(home, "get", "Gmail")
    assert gone.code == 1 and "no item titled" in gone.err
    assert "OK:" in ok(run(home, "audit", "verify")).out


def test_generated_password_shape(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "vault"
    ok(run(home, "init", "--name", "Owner"))
    ok(run(home, "vault", "create", str(folder)))
    ok(run(home, "add", "A", "--generate"))
    pw = ok(run(home, "get", "A")).out.strip()
    assert len(pw) == 24
    assert any(c.isdigit() for c in pw) and any(c.isupper() for c in pw)
    assert any(not c.isalnum() for c in pw)


def test_ambiguous_title_lists_candidates(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "vault"
    ok(run(home, "init", "--name", "Owner"))
    ok(run(home, "vault", "create", str(folder)))
    for title in ("Bank A", "Bank B"):
        ok(run(home, "add", title, "--password-stdin", input="x\n"))
    r = run(home, "get", "bank")
    assert r.code == 1 and "'Bank A'" in r.err and "'Bank B'" in r.err
    assert ok(run(home, "get", "Bank A")).out == "x\n"


def test_vault_list_use_and_selection(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "init", "--name", "Owner"))
    ok(run(home, "vault", "create", str(tmp_path / "one"), "--name", "one"))
    ok(run(home, "vault", "create", str(tmp_path / "two"), "--name", "two"))
    ok(run(home, "add", "InOne", "--password-stdin", input="1\n"))  # default: first created
    ok(run(home, "vault", "use", "two"))
    ok(run(home, "add", "InTwo", "--password-stdin", input="2\n"))
    assert "InTwo" in ok(run(home, "list")).out and "InOne" not in ok(run(home, "list")).out
    assert "InOne" in ok(run(home, "--vault", "one", "list")).out
    assert "InOne" in ok(run(home, "--vault", str(tmp_path / "one"), "list")).out
    vaults = json.loads(ok(run(home, "vault", "list", "--json")).out)
    assert [v["name"] for v in vaults if v["default"]] == ["two"]


def test_no_plaintext_on_disk_and_private_modes(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "vault"
    old = os.umask(0)  # even under a permissive umask, files are private
    try:
        ok(run(home, "init", "--name", "Owner"))
        ok(run(home, "vault", "create", str(folder)))
        c = CANARIES
        ok(
            run(
                home,
                "add",
                c["title"],
                "--username",
                c["username"],
                "--url",
                c["url"],
                "--note",
                c["note"],
                "--field",
                f"extra={c['field']}",
                "--password-stdin",
                "--totp-stdin",
                input=f"{c['password']}\n{c['seed']}\n",
            )
        )
        ok(run(home, "get", c["title"]))
        ok(run(home, "recovery-kit", str(home / "kit.txt")))
    finally:
        os.umask(old)
    for root in (home, folder):
        for dirpath, _dirnames, filenames in os.walk(root):
            assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
            for name in filenames:
                path = os.path.join(dirpath, name)
                assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path
                with open(path, "rb") as fh:
                    data = fh.read()
                for what, value in c.items():
                    assert value.encode() not in data, f"{what} in {path}"
                    assert value.lower().encode() not in data.lower(), f"{what} in {path}"


def test_secret_options_are_not_on_argv():
    import cli

    names = {opt for cmd in _all_commands(cli.cli) for p in cmd.params for opt in p.opts}
    assert not names & {"--password", "--passphrase-value", "--secret", "--totp-secret", "--seed"}
    add = cli.cli.commands["add"]
    totp = next(p for p in add.params if "--totp" in p.opts)
    assert totp.is_flag  # --totp is a flag that prompts, never a value


def _all_commands(group):
    import click

    for cmd in group.commands.values():
        yield cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd)
