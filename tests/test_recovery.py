"""Recovery kits: a lost machine (home and keyring entry gone) is survivable with kit + code."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from tests.helpers import ok, run
from vault.errors import BadRecoveryCode
from vault.identity import Identity
from vault.keystore import (
    KeyStore,
    new_recovery_code,
    normalize_recovery_code,
    open_recovery_kit,
)

CODE_FORMAT = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){6}$")
ITEMS = {"Mail": "mail-pw-1", "Bank": "bank pw with spaces 2", "Shop": "shöp-pw-3"}
REMINDER = "no recovery kit yet"


def one_typo(code: str, index: int = 0) -> str:
    """The code with one character changed to another valid (non-look-alike) character."""
    chars = list(code)
    chars[index] = "Z" if chars[index] != "Z" else "Y"
    return "".join(chars)


def _mode_args(mode: str) -> list[str]:
    return ["--passphrase"] if mode == "passphrase" else []


def lose_a_machine(tmp_path: Path, memory_keyring, mode: str) -> dict:
    """An owner with a vault, items and a recovery kit, whose machine was then lost."""
    home, folder, kit = tmp_path / "home", tmp_path / "vault", tmp_path / "kit.txt"
    ok(run(home, "init", "--name", "Alice", *_mode_args(mode)))
    me = json.loads(ok(run(home, "whoami", "--json")).out)
    assert me["key_mode"] == mode
    assert REMINDER in run(home, "whoami").err
    ok(run(home, "vault", "create", str(folder), "--name", "family"))
    for title, password in ITEMS.items():
        ok(
            run(
                home, "add", title, "--username", "alice", "--password-stdin", input=password + "\n"
            )
        )
    r = ok(run(home, "recovery-kit", str(kit)))
    code = r.out.strip()
    assert r.out == code + "\n"  # stdout holds only the code
    assert CODE_FORMAT.match(code), code
    assert REMINDER not in run(home, "whoami").err

    shutil.rmtree(home)
    memory_keyring.entries.clear()
    assert not home.exists()
    return {"mode": mode, "home": home, "folder": folder, "kit": kit, "code": code, "me": me}


@pytest.fixture(params=["keyring", "passphrase"])
def lost_machine(request, tmp_path, memory_keyring):
    return lose_a_machine(tmp_path, memory_keyring, request.param)


@pytest.fixture
def lost_keyring_machine(tmp_path, memory_keyring):
    return lose_a_machine(tmp_path, memory_keyring, "keyring")


def test_restore_after_a_lost_machine_reads_every_item(lost_machine, memory_keyring):
    m = lost_machine
    home = m["home"]
    r = ok(
        run(
            home, "init", "--restore", str(m["kit"]), *_mode_args(m["mode"]), input=m["code"] + "\n"
        )
    )
    assert r.out == ""
    assert "restored Alice" in r.err
    me = json.loads(ok(run(home, "whoami", "--json")).out)
    assert me["id"] == m["me"]["id"]
    assert me["safety_code"] == m["me"]["safety_code"]
    assert me["key_mode"] == m["mode"]
    assert bool(memory_keyring.entries) == (m["mode"] == "keyring")

    ok(run(home, "vault", "open", str(m["folder"]), "--safety-code", me["safety_code"]))
    vaults = json.loads(ok(run(home, "vault", "list", "--json")).out)
    assert [(v["name"], v["role"]) for v in vaults] == [("family", "owner")]
    for title, password in ITEMS.items():
        assert ok(run(home, "get", title)).out == password + "\n"
        assert ok(run(home, "get", title, "username")).out == "alice\n"

    # still the owner: can write again, and the audit trail still verifies
    ok(run(home, "add", "After", "--password-stdin", input="after-pw\n"))
    assert ok(run(home, "get", "After")).out == "after-pw\n"
    ok(run(home, "audit", "verify"))
    assert REMINDER not in ok(run(home, "whoami")).err  # the kit it came from counts


def test_a_typo_in_the_code_is_caught_and_nothing_is_created(lost_keyring_machine):
    m = lost_keyring_machine
    r = run(m["home"], "init", "--restore", str(m["kit"]), input=one_typo(m["code"]) + "\n")
    assert r.code == 1, r
    assert r.out == ""
    assert "takusu: error:" in r.err and "has a typo" in r.err
    assert "Traceback" not in r.err
    assert not (m["home"] / "identity.key").exists()


def test_a_wrong_code_with_a_valid_checksum_is_refused(lost_keyring_machine):
    m = lost_keyring_machine
    wrong = new_recovery_code()
    assert wrong != m["code"]
    r = run(m["home"], "init", "--restore", str(m["kit"]), input=wrong + "\n")
    assert r.code == 1, r
    assert "does not open this kit" in r.err
    assert "has a typo" not in r.err
    assert not (m["home"] / "identity.key").exists()


# --- the kit and the code, at library level (fast) ------------------------------------------


@pytest.fixture
def kit(tmp_path):
    identity = Identity.generate("Alice")
    path = tmp_path / "kit.txt"
    code = KeyStore(tmp_path / "home").write_recovery_kit(identity, path)
    return identity, path, code


def test_kit_file_is_private_and_holds_neither_code_nor_keys(kit):
    identity, path, code = kit
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN TAKUSU RECOVERY KIT-----\n")
    assert normalize_recovery_code(code) not in text.replace("-", "")
    assert identity.signing.raw().hex() not in text
    assert open_recovery_kit(path, code).id == identity.id


def test_typo_is_reported_before_any_kdf_work(kit, tmp_path):
    _, path, code = kit
    # the kit is not even read: a missing file still reports the typo, not the file
    with pytest.raises(BadRecoveryCode, match="has a typo"):
        open_recovery_kit(tmp_path / "no-such-kit", one_typo(code, index=10))
    with pytest.raises(BadRecoveryCode, match="has a typo"):
        open_recovery_kit(path, one_typo(code, index=len(code) - 1))


def test_wrong_checksum_valid_code_is_bad_recovery_code(kit):
    _, path, _ = kit
    with pytest.raises(BadRecoveryCode, match="does not open"):
        open_recovery_kit(path, new_recovery_code())


def test_code_is_forgiving_about_case_separators_and_look_alikes(kit):
    identity, path, code = kit
    relaxed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalize_recovery_code(relaxed) == normalize_recovery_code(code)
    assert open_recovery_kit(path, relaxed).id == identity.id


@pytest.mark.parametrize("bad", ["", "ABCD-EFGH", "U" * 28])
def test_malformed_codes_are_bad_recovery_codes(bad):
    with pytest.raises(BadRecoveryCode):
        normalize_recovery_code(bad)


def test_new_codes_are_well_formed_and_distinct():
    codes = {new_recovery_code() for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert CODE_FORMAT.match(code)
        normalize_recovery_code(code)  # its own checksum is valid


def test_recovery_kit_refuses_to_overwrite_a_file(tmp_path):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    kit = tmp_path / "kit.txt"
    kit.write_text("precious\n")
    r = run(home, "recovery-kit", str(kit))
    assert r.code == 1, r
    assert r.out == ""  # no code is shown for a kit that was not written
    assert kit.read_text() == "precious\n"
    assert REMINDER in run(home, "whoami").err


def test_restore_refuses_a_home_that_has_an_identity(tmp_path):
    home = tmp_path / "h"
    ok(run(home, "init", "--name", "Alice"))
    kit = tmp_path / "kit.txt"
    code = ok(run(home, "recovery-kit", str(kit))).out.strip()
    before = (home / "identity.key").read_bytes()
    r = run(home, "init", "--restore", str(kit), input=code + "\n")
    assert r.code == 1, r
    assert "already exists" in r.err
    assert (home / "identity.key").read_bytes() == before


def test_testing_a_kit_in_a_second_home_keeps_the_first_home_working(tmp_path, memory_keyring):
    # regression: the keyring account was the identity id alone, so this restore
    # overwrote the first home's KEK and locked it out (exit 3, "tampering")
    first, second = tmp_path / "first", tmp_path / "second"
    ok(run(first, "init", "--name", "Alice"))
    ok(run(first, "vault", "create", str(tmp_path / "v")))
    ok(run(first, "add", "Mail", "--password-stdin", input="pw\n"))
    me = json.loads(ok(run(first, "whoami", "--json")).out)["safety_code"]
    kit = tmp_path / "kit.txt"
    code = ok(run(first, "recovery-kit", str(kit))).out.strip()

    ok(run(second, "init", "--restore", str(kit), input=code + "\n"))  # "does my kit work?"

    assert ok(run(first, "get", "Mail")).out == "pw\n"
    ok(run(second, "vault", "open", str(tmp_path / "v"), "--safety-code", me))
    assert ok(run(second, "get", "Mail")).out == "pw\n"
    assert len(memory_keyring.entries) == 2
