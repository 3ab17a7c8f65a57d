"""Formats 1pux and 1password-csv."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.transfer.builders import (
    FILES,
    assert_clean,
    by_title,
    make_1pux,
    message_texts,
    places,
    read,
    skipped,
)
from vault.errors import BadImport


@pytest.fixture
def pux(tmp_path):
    return read(make_1pux(tmp_path / "export.1pux"), "1pux")


def test_1pux_login_fields_sections_tags_and_favourite(pux):
    mf = by_title(pux)["マネーフォワード"]
    assert mf.place == "item 1 in Private"
    assert mf.username == "sato@example.jp"
    assert mf.password == "Op1-pass-1"
    assert mf.url == "https://id.moneyforward.com/"
    assert mf.notes == "経理用アカウント\n月末に確認"
    assert mf.totp == "otpauth://totp/MF:sato?secret=GEZDGNBVGY3TQOJQGEZDGNBV&issuer=MF"
    assert mf.favorite is True
    assert mf.tags == ["Private", "経理", "会社"]  # two vaults: the vault is a tag too
    assert mf.fields == {
        "URL 2": "https://biz.moneyforward.com/",
        "事業所コード": "A-001",  # a text login field; the checkbox is not kept
        "秘密の質問": "Op1-answer",
        "契約日": "2024-01-01",
        "カード有効期限": "2030-12",
        "連絡先": "keiri@example.jp",
    }
    assert mf.notices == ["an attachment was not imported"]


def test_1pux_password_item_and_note_in_a_second_vault(pux):
    records = by_title(pux)
    assert records["ルーター管理画面"].password == "Op1-router"
    note = records["会議室の暗証番号"]
    assert note.notes == "1234#" and note.tags == ["共有"]
    assert note.place == "item 1 in 共有"


def test_1pux_archived_and_trashed_items_are_skipped_and_attachments_reported(pux):
    assert skipped(pux) == {
        "item 3 in Private": "archived",
        "item 4 in Private": "in the trash",
        "item 5 in Private": "in the trash",
    }
    assert pux.notices == ["1 attached file in the export was not imported"]
    assert_clean(message_texts(pux), "CANARY-archived-pass")
    assert len(pux.records) == 3 and not pux.refused


def test_1pux_one_vault_adds_no_vault_tag(tmp_path):
    data = json.loads((FILES / "1pux-export.data.json").read_text("utf-8"))
    data["accounts"][0]["vaults"].pop()
    result = read(make_1pux(tmp_path / "one.1pux", data, attachments=0), "1pux")
    assert by_title(result)["マネーフォワード"].tags == ["経理", "会社"]
    assert result.notices == []


def test_1pux_bad_item_refused_alone_with_no_secret(tmp_path):
    data = json.loads((FILES / "1pux-export.data.json").read_text("utf-8"))
    items = data["accounts"][0]["vaults"][0]["items"]
    items[1]["details"]["password"] = "CANARY-shape"
    items[1]["details"]["sections"] = [{"fields": [{"title": "x", "value": {"concealed": 7}}]}]
    items[0]["overview"]["title"] = "bad\u0007title"
    result = read(make_1pux(tmp_path / "bad.1pux", data), "1pux")
    assert set(places(result)) == {"item 1 in Private", "item 2 in Private"}
    assert "position 4" in places(result)["item 1 in Private"]
    assert_clean(message_texts(result), "CANARY", "Op1-pass-1")


def test_a_broken_zip_is_one_clear_error(tmp_path):
    good = make_1pux(tmp_path / "good.1pux").read_bytes()
    broken = tmp_path / "broken.1pux"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(BadImport, match="not a readable zip archive"):
        read(broken, "1pux")
    broken.write_bytes(b"this is not a zip at all")
    with pytest.raises(BadImport, match="not a readable zip archive"):
        read(broken, "1pux")


def test_a_zip_without_export_data_is_not_a_1pux(tmp_path):
    path = tmp_path / "other.1pux"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(BadImport, match="no export.data") as caught:
        read(path, "1pux")
    assert "1PUX" in caught.value.hint


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = make_1pux(tmp_path / "bomb.1pux", b" " * (50 << 20), attachments=0)
    assert path.stat().st_size < 1 << 20  # ~1000:1, as a bomb is
    with pytest.raises(BadImport, match="zip bomb"):
        read(path, "1pux")


def test_a_zip_that_understates_its_size_is_a_clear_error(tmp_path):
    path = make_1pux(tmp_path / "liar.1pux", b"[" + b" " * 5000 + b"]", attachments=0)
    raw = bytearray(path.read_bytes())
    # shrink the uncompressed size the central directory states to 10 bytes
    end = raw.rfind(b"PK\x05\x06")
    directory = int.from_bytes(raw[end + 16 : end + 20], "little")
    while raw[directory : directory + 4] == b"PK\x01\x02":
        name_len = int.from_bytes(raw[directory + 28 : directory + 30], "little")
        extra = int.from_bytes(raw[directory + 30 : directory + 32], "little")
        comment = int.from_bytes(raw[directory + 32 : directory + 34], "little")
        if raw[directory + 46 : directory + 46 + name_len] == b"export.data":
            raw[directory + 24 : directory + 28] = (10).to_bytes(4, "little")
        directory += 46 + name_len + extra + comment
    path.write_bytes(bytes(raw))
    with pytest.raises(BadImport, match="not a readable zip"):  # cut at 10 bytes: bad CRC
        read(path, "1pux")


def test_an_encrypted_zip_member_is_a_clear_error(tmp_path):
    path = make_1pux(tmp_path / "enc.1pux", attachments=0)
    raw = bytearray(path.read_bytes())
    # set the 'encrypted' flag bit on every local and central header
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(sig)
        while at != -1:
            raw[at + offset] |= 1
            at = raw.find(sig, at + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(BadImport, match="encrypted"):
        read(path, "1pux")


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"accounts": {}}', b'{"accounts": [{"vaults": [5]}]}'],
)
def test_export_data_of_the_wrong_shape_is_one_bad_import(tmp_path, data):
    with pytest.raises(BadImport, match="not a 1PUX export"):
        read(make_1pux(tmp_path / "x.1pux", data), "1pux")


def test_1password_csv_tags_favourite_totp_and_archived():
    result = read(FILES / "1password.csv", "1password-csv")
    freee = by_title(result)["freee"]
    assert freee.username == "kato@example.jp" and freee.password == "Op-pass-1"
    assert freee.url == "https://accounts.secure.freee.co.jp"
    assert freee.totp.startswith("otpauth://totp/freee:kato?secret=JBSWY3DPEHPK3PXP")
    assert freee.favorite is True
    assert freee.tags == ["経理", "会社"]
    assert freee.notes == "請求書はこちら"
    assert skipped(result) == {"row 3": "archived"}


def test_older_1password_csv_header_is_read_by_name(tmp_path):
    path = tmp_path / "1p7.csv"
    path.write_text(
        "title,website,username,password,notesPlain,one-time password,type\n"
        "Office,office.example.jp,u,p,memo,JBSWY3DPEHPK3PXP,Login\n",
        "utf-8",
    )
    record = read(path, "1password-csv").records[0]
    assert (record.title, record.url, record.notes) == ("Office", "office.example.jp", "memo")
    assert record.totp == "otpauth://totp/Office?secret=JBSWY3DPEHPK3PXP"
    assert record.fields == {"type": "Login"}


def test_zip_of_another_shape_inside_data(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("x", "y")
    with pytest.raises(BadImport, match="not a 1PUX export"):
        read(make_1pux(tmp_path / "nested.1pux", inner.getvalue()), "1pux")
