"""The prompts a person answers at a real terminal (a pseudo-terminal, a real takusu process)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import PASSPHRASE, on_tty


def setup_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    client, secretary, folder = tmp_path / "c", tmp_path / "s", tmp_path / "vault"
    env = {"TAKUSU_PASSPHRASE": PASSPHRASE}
    for home, name in ((client, "Client"), (secretary, "Aiko")):
        code, out = on_tty(home, ["init", "--name", name], [], env)
        assert code == 0, out
    code, out = on_tty(client, ["vault", "create", str(folder)], [], env)
    assert code == 0, out
    return client, secretary, folder


def test_passphrase_prompt_hides_input_and_confirms(tmp_path):
    home = tmp_path / "h"
    code, out = on_tty(
        home,
        ["init", "--name", "Pat", "--passphrase"],
        [
            ("New takusu passphrase:", "a long passphrase here"),
            ("Type it again to confirm:", "a long passphrase here"),
        ],
    )
    assert code == 0, out
    assert "a long passphrase here" not in out  # never echoed
    code, out = on_tty(home, ["whoami"], [("takusu passphrase:", "a long passphrase here")])
    assert code == 0 and "Pat" in out
    code, out = on_tty(home, ["vault", "list"], [("takusu passphrase:", "wrong passphrase!")])
    assert code == 0  # vault list needs no unlocking
    wrong = [("takusu passphrase:", "wrong passphrase!")] * 3  # asked three times, then it stops
    code, out = on_tty(home, ["vault", "create", str(tmp_path / "v")], wrong)
    assert code == 1 and "wrong passphrase" in out and "Traceback" not in out
    assert out.count("takusu passphrase:") == 3
    # a typo is asked again instead of losing the command
    typo = [
        ("takusu passphrase:", "wrong passphrase!"),
        ("takusu passphrase:", "a long passphrase here"),
    ]
    code, out = on_tty(home, ["vault", "create", str(tmp_path / "v2")], typo)
    assert code == 0 and "Created vault" in out, out


def test_member_add_asks_to_compare_the_safety_code(tmp_path):
    client, secretary, _ = setup_pair(tmp_path)
    env = {"TAKUSU_PASSPHRASE": PASSPHRASE}
    card = tmp_path / "aiko.card"
    code, out = on_tty(secretary, ["card"], [], env)
    card.write_text(out[out.index("-----BEGIN") :])
    add = ["member", "add", str(card), "--name", "aiko"]
    code, out = on_tty(client, add, [("digit for digit?", "n")], env)
    assert code == 1 and "not confirmed" in out
    code, out = on_tty(client, add, [("digit for digit?", "y")], env)
    assert code == 0 and "Added aiko" in out
    assert "safety code" in out.lower()


def test_vault_open_shows_the_owner_and_asks(tmp_path):
    client, secretary, folder = setup_pair(tmp_path)
    env = {"TAKUSU_PASSPHRASE": PASSPHRASE}
    code, out = on_tty(secretary, ["vault", "open", str(folder)], [("digit for digit?", "n")], env)
    assert code == 1 and "Client" in out and "not confirmed" in out
    code, out = on_tty(secretary, ["vault", "open", str(folder)], [("digit for digit?", "y")], env)
    assert code == 0 and "owned by Client" in out


def test_add_asks_for_the_password_twice_without_echo(tmp_path):
    client, _, _ = setup_pair(tmp_path)
    env = {"TAKUSU_PASSPHRASE": PASSPHRASE}
    code, out = on_tty(
        client,
        ["add", "Shop", "--totp"],
        [
            ("Password for Shop", "typed-secret-1"),
            ("Type it again to confirm:", "typed-secret-1"),
            ("2FA seed for Shop", "JBSWY3DPEHPK3PXP"),
        ],
        env,
    )
    assert code == 0, out
    assert "typed-secret-1" not in out and "JBSWY3DPEHPK3PXP" not in out
    code, out = on_tty(client, ["get", "Shop"], [], env)
    assert code == 0 and "typed-secret-1" in out
