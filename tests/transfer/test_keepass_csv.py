"""Format keepassxc-csv, from a hand-written file and from the real keepassxc-cli."""

from __future__ import annotations

import subprocess

import pytest

from tests.transfer.builders import FILES, by_title, read, skipped
from vault.errors import BadImport
from vault.transfer.keepass_csv import group_path


def test_groups_become_tags_below_the_root_and_the_recycle_bin_is_skipped():
    result = read(FILES / "keepassxc.csv", "keepassxc-csv")
    records = by_title(result)
    assert set(records) == {"Gmail", "三井住友銀行"}
    assert records["Gmail"].tags == []  # an entry of the root group itself
    bank = records["三井住友銀行"]
    assert bank.tags == ["銀行/法人"]
    assert bank.username == "0012345678"  # leading zeros kept
    assert bank.password == "Kp-pass-2"
    assert bank.notes == "法人口座\n担当: 鈴木"
    assert bank.totp.startswith("otpauth://totp/SMBC:0012345678?secret=GEZDGNBVGY3TQOJQGEZDGNBV")
    assert bank.fields == {}  # icon and dates are not kept
    assert skipped(result) == {"row 4": "in the recycle bin"}


@pytest.mark.parametrize(
    ("group", "path"),
    [("Root", []), ("Root/Banking", ["Banking"]), ("Passwords/a/b", ["a", "b"]), ("", [])],
)
def test_group_path(group, path):
    assert group_path(group) == path


def test_japanese_recycle_bin_is_skipped(tmp_path):
    path = tmp_path / "kp.csv"
    path.write_text(
        '"Group","Title","Username","Password","URL","Notes"\n'
        '"ルート/ごみ箱","消した","u","p","",""\n"ルート/仕事","残す","u","p","",""\n',
        "utf-8",
    )
    result = read(path, "keepassxc-csv")
    assert [(r.title, r.tags) for r in result.records] == [("残す", ["仕事"])]
    assert skipped(result) == {"row 2": "in the recycle bin"}


def test_a_bitwarden_csv_is_not_a_keepassxc_csv():
    with pytest.raises(BadImport, match="not a KeePassXC CSV export"):
        read(FILES / "bitwarden.csv", "keepassxc-csv")


DB_PASS = "db-pass"


def kpcli(*args: str, stdin: str = "") -> str:
    """keepassxc-cli, answering its database password prompt first."""
    done = subprocess.run(
        ["keepassxc-cli", *args],
        input=f"{DB_PASS}\n{stdin}",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.external
def test_a_real_keepassxc_cli_export_reads_back(tmp_path, tools):
    tools("keepassxc-cli")
    db = str(tmp_path / "t.kdbx")
    kpcli("db-create", "-p", "-t", "100", db, stdin=f"{DB_PASS}\n")
    kpcli("mkdir", db, "銀行")
    kpcli(
        "add",
        "-u",
        "0012345",
        "--url",
        "https://bank.example.jp",
        "-p",
        db,
        "銀行/みずほ",
        stdin="Real-pass-1\n",
    )
    kpcli("add", "-u", "gone", "-p", db, "消すもの", stdin="Real-pass-2\n")
    kpcli("rm", db, "消すもの")
    export = tmp_path / "export.csv"
    export.write_text(kpcli("export", "-f", "csv", db), "utf-8")
    result = read(export, None)  # detected by its header
    assert result.format == "keepassxc-csv"
    [record] = result.records
    assert (record.title, record.username, record.password) == ("みずほ", "0012345", "Real-pass-1")
    assert record.url == "https://bank.example.jp" and record.tags == ["銀行"]
    assert list(skipped(result).values()) == ["in the recycle bin"]
