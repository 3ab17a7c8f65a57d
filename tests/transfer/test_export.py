"""The way out: a KDBX 4 (Argon2id) file that the real KeePassXC opens, shows and
computes TOTP codes from, read back field for field; and the plaintext CSV."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import stat
import struct
import time
from pathlib import Path

import pyotp
import pytest

from tests.transfer.kpxc import KeePassXC
from vault import fsutil
from vault.errors import AlreadyExists, BadInput, StorageError
from vault.item import Payload, empty_payload
from vault.transfer import export, keepass
from vault.transfer.export import STRONG_KDF, KdfParams, write_kdbx, write_plain_csv
from vault.transfer.record import ReadOptions

PW = "エクスポート-pass-1"
LIGHT = KdfParams(memory_kib=1024, iterations=2, parallelism=1)  # the tests' cheap KDF
SEED_A = "CANARYSEEDAAAAAAAAAAAAAAAAAAAAA2"
SEED_B = "CANARYSEEDBBBBBBBBBBBBBBBBBBBBB2"


def item(**kw) -> Payload:
    payload = empty_payload()
    payload.update(kw)  # type: ignore[typeddict-item]
    return payload


ITEMS = [
    item(
        title="三井住友銀行",
        username="taro",
        password="CANARY-pw-=1",
        url="https://www.smbc.co.jp/",
        notes="振込用\n暗証番号は別に保管",
        totp=f"otpauth://totp/SMBC:taro?secret={SEED_A}&issuer=SMBC",
        fields={"支店番号": "123", "暗証番号": "CANARY-4821"},
        tags=["Banking/Japan", "重要"],
    ),
    item(
        title="Gmail",
        username="taro@example.jp",
        password="-starts-with-a-dash",
        url="https://mail.google.com/",
        totp=f"otpauth://totp/G?secret={SEED_B}&digits=8&period=60&algorithm=SHA256",
        fields={
            "otp": "a field named otp",
            "Password": "a field named Password",
            "recovery codes": "1111 2222\n3333 4444",
        },  # fmt: skip
    ),
    item(title="Wi-Fi 事務所", password="wifi pass with spaces", tags=["office"]),
]
# what KeePass holds (and reads back) for a custom field whose name it reserves
RENAMED = {"otp": "otp (field)", "Password": "Password (field)"}


def expected_back(payload: Payload) -> Payload:
    out = dict(payload)
    out["fields"] = {RENAMED.get(k, k): v for k, v in payload["fields"].items()}
    out["tags"] = sorted(payload["tags"])
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> KeePassXC:
    return KeePassXC(tmp_path_factory.mktemp("kpxc-home"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "takusu.kdbx"
    write_kdbx(path, ITEMS, PW, kdf_params=LIGHT)
    return path


# ---------------------------------------------------------------- checked by KeePassXC


def test_keepassxc_reports_kdbx_4_with_argon2id(cli, exported):
    info = cli.info(exported, PW)
    assert "KDF: Argon2id (2 rounds, 1024 KB)" in info
    assert "Cipher: AES 256-bit" in info
    assert "Number of entries: 3" in info
    minor, major = struct.unpack_from("<HH", exported.read_bytes(), 8)
    assert (major, minor) == (4, 0)


def test_the_default_kdf_is_strong_argon2id(cli, tmp_path):
    assert STRONG_KDF.memory_kib >= 64 << 10 and STRONG_KDF.iterations >= 10
    path = tmp_path / "strong.kdbx"
    write_kdbx(path, ITEMS[2:], PW)
    info = cli.info(path, PW)
    assert f"KDF: Argon2id ({STRONG_KDF.iterations} rounds, {STRONG_KDF.memory_kib} KB)" in info


def test_keepassxc_lists_and_shows_every_field(cli, exported):
    listed = cli.run("ls", "-R", str(exported), stdin=f"{PW}\n").splitlines()
    assert sorted(line.strip() for line in listed if line.strip()) == sorted(
        i["title"] for i in ITEMS
    )
    standard = {"Title": "title", "UserName": "username", "Password": "password"}
    standard |= {"URL": "url", "Notes": "notes", "otp": "totp"}
    for payload in ITEMS:
        title = payload["title"]
        for attribute, field in standard.items():
            if attribute == "otp" and not payload["totp"]:
                continue
            assert cli.attribute(exported, PW, title, attribute) == (payload[field] or ""), field
        for name, value in payload["fields"].items():
            assert cli.attribute(exported, PW, title, RENAMED.get(name, name)) == value
        tags = cli.attribute(exported, PW, title, "Tags")
        assert sorted(filter(None, tags.split(","))) == sorted(payload["tags"])


def test_keepassxc_shows_the_totp_code_pyotp_computes(cli, exported):
    cases = {
        "三井住友銀行": pyotp.TOTP(SEED_A),
        "Gmail": pyotp.TOTP(SEED_B, digits=8, digest=hashlib.sha256, interval=60),
    }
    for title, otp in cases.items():
        for _ in range(3):  # the code can roll over between the two computations
            before = otp.now()
            shown = cli.totp(exported, PW, title)
            if shown in (before, otp.now()):
                break
        else:
            raise AssertionError(f"KeePassXC shows another TOTP for {title}")


def test_reading_the_export_back_gives_every_field(exported):
    result = keepass.read(exported, "kdbx", ReadOptions(password=lambda: PW))
    assert result.refused == [] and result.skipped == [] and result.notices == []
    assert [r.payload() for r in result.records] == [expected_back(i) for i in ITEMS]


def test_every_export_has_fresh_seeds_and_salt(tmp_path):
    from pykeepass import PyKeePass
    from pykeepass.pykeepass import BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD

    one, two = tmp_path / "1.kdbx", tmp_path / "2.kdbx"
    write_kdbx(one, ITEMS, PW, kdf_params=LIGHT)
    write_kdbx(two, ITEMS, PW, kdf_params=LIGHT)
    assert one.read_bytes()[:200] != two.read_bytes()[:200]
    template = PyKeePass(BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD)
    salts = {PyKeePass(p, PW).database_salt for p in (one, two)}
    assert len(salts) == 2 and template.database_salt not in salts
    uuids = {e.uuid for p in (one, two) for e in PyKeePass(p, PW).entries}
    assert len(uuids) == 2 * len(ITEMS) and all(u.version == 4 for u in uuids)


# ---------------------------------------------------------------- the file itself


def test_the_file_is_private_and_nothing_else_is_left(exported):
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert [p.name for p in exported.parent.iterdir()] == [exported.name]


@pytest.mark.parametrize("writer", ["kdbx", "csv"])
def test_an_existing_file_is_kept_unless_overwrite(tmp_path, writer):
    def write(path, **kw):
        if writer == "kdbx":
            write_kdbx(path, ITEMS, PW, kdf_params=LIGHT, **kw)
        else:
            write_plain_csv(path, ITEMS, **kw)

    path = tmp_path / f"out.{writer}"
    path.write_bytes(b"the client's older file")
    path.chmod(0o644)
    with pytest.raises(AlreadyExists):
        write(path)
    assert path.read_bytes() == b"the client's older file"
    write(path, overwrite=True)
    assert path.read_bytes() != b"the client's older file"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    link = tmp_path / f"link.{writer}"
    link.symlink_to(path)
    with pytest.raises(StorageError, match="symbolic link"):
        write(link, overwrite=True)
    with pytest.raises(StorageError, match="folder does not exist"):
        write(tmp_path / "missing" / f"x.{writer}")


def test_a_file_that_appears_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    path = tmp_path / "race.kdbx"
    real_write_new = export.write_new

    def write_new_then_race(tmp, data):
        real_write_new(tmp, data)
        path.write_bytes(b"written by someone else meanwhile")

    monkeypatch.setattr(export, "write_new", write_new_then_race)
    with pytest.raises(AlreadyExists):
        write_kdbx(path, ITEMS, PW, kdf_params=LIGHT)
    assert path.read_bytes() == b"written by someone else meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_full_disk_or_failed_rename_leaves_no_file(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.DEFAULT_DISK, "write", full)
    with pytest.raises(StorageError, match="disk is full"):
        write_kdbx(tmp_path / "full.kdbx", ITEMS, PW, kdf_params=LIGHT)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def broken(*args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(export.os, "link", broken)
    monkeypatch.setattr(export.os, "replace", broken)
    for overwrite in (False, True):
        with pytest.raises(StorageError, match="Input/output error"):
            write_plain_csv(tmp_path / "x.csv", ITEMS, overwrite=overwrite)
        assert list(tmp_path.iterdir()) == []


def test_no_hard_links_falls_back_to_a_checked_rename(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(export.os, "link", no_links)
    path = tmp_path / "fat.csv"
    write_plain_csv(path, ITEMS)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize(
    "items, password, words",
    [
        (ITEMS, "", "needs a password"),
        ([item(title="")], PW, "no title"),
        ([item(title="t", notes="CANARY\x00nul")], PW, "the notes hold characters"),
        ([item(title="t", password="CANARY\x1b")], PW, "the password holds characters"),
        ([item(title="t", fields={"k": "CANARY\ud800"})], PW, "custom field holds"),
        ([item(title="t", tags=["a\x07"])], PW, "tag holds"),
    ],
)
def test_what_a_kdbx_cannot_hold_is_refused_before_any_file(tmp_path, items, password, words):
    with pytest.raises(BadInput, match=words) as caught:
        write_kdbx(tmp_path / "bad.kdbx", items, password, kdf_params=LIGHT)
    assert "CANARY" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_vault_exports_an_empty_database(cli, tmp_path):
    path = tmp_path / "empty.kdbx"
    write_kdbx(path, [], PW, kdf_params=LIGHT)
    assert "Number of entries: 0" in cli.info(path, PW)


def test_a_large_export_stays_quick(tmp_path):
    many = [item(title=f"item {i}", password=f"pw-{i}", notes="メモ" * 50) for i in range(500)]
    started = time.monotonic()
    write_kdbx(tmp_path / "many.kdbx", many, PW, kdf_params=LIGHT)
    result = keepass.read(tmp_path / "many.kdbx", "kdbx", ReadOptions(password=lambda: PW))
    assert len(result.records) == 500 and time.monotonic() - started < 20


# ---------------------------------------------------------------- plaintext CSV


def rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_csv_has_the_standard_columns_then_one_per_custom_field(tmp_path):
    path = tmp_path / "plain.csv"
    write_plain_csv(path, ITEMS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, *body = rows(path)
    custom = ["支店番号", "暗証番号", "otp", "Password (field)", "recovery codes"]
    assert header == ["title", "username", "password", "url", "notes", "totp", "tags", *custom]
    assert body[0] == [
        "三井住友銀行", "taro", "CANARY-pw-=1", "https://www.smbc.co.jp/",
        "振込用\n暗証番号は別に保管", ITEMS[0]["totp"], "Banking/Japan, 重要",
        "123", "CANARY-4821", "", "", "",
    ]  # fmt: skip
    assert body[1][2] == "'-starts-with-a-dash"  # defused, see below
    assert body[1][7:] == ["", "", "a field named otp", "a field named Password",
                           "1111 2222\n3333 4444"]  # fmt: skip
    assert body[2][:7] == ["Wi-Fi 事務所", "", "wifi pass with spaces", "", "", "", "office"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(tmp_path, start):
    evil = f'{start}HYPERLINK("http://example.com","x")'
    payload = item(title=f"{start}title", username=evil, notes=evil, fields={f"{start}name": evil})
    path = tmp_path / "evil.csv"
    write_plain_csv(path, [payload, item(title="a=b", password="x-y@z")])
    header, first, second = rows(path)
    assert header[-1] == f"'{start}name"
    assert all(cell.startswith(f"'{start}") for cell in (first[0], first[1], first[4], first[7]))
    assert second[:3] == ["a=b", "", "x-y@z"]  # only a leading character matters
