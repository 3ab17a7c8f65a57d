"""Formats bitwarden-json and bitwarden-csv."""

from __future__ import annotations

import json

import pytest

from tests.transfer.builders import (
    FILES,
    assert_clean,
    by_title,
    error_texts,
    message_texts,
    places,
    read,
)
from vault.errors import BadImport

CANARIES = ("CANARY-steam-pass", "CANARYSTEAMSEED", "CANARY-future-note", "CANARY-passkey")


@pytest.fixture(scope="module")
def bw():
    return read(FILES / "bitwarden.json", "bitwarden-json")


def test_json_login_with_folder_favourite_uris_seed_and_custom_fields(bw):
    bank = by_title(bw)["三菱UFJ銀行"]
    assert bank.username == "0001234"
    assert bank.password == "Bw-pass-1"
    assert bank.url == "https://direct.bk.mufg.jp/"
    assert bank.notes == "法人口座です"
    assert bank.favorite is True
    assert bank.tags == ["銀行"]
    assert bank.totp.endswith("?secret=GEZDGNBVGY3TQOJQGEZDGNBV")  # bare, spaced, lowercase
    assert bank.fields == {
        "URL 2": "https://biz.bk.mufg.jp/",
        "支店番号": "001",
        "暗証番号": "Bw-pin-1",
        "法人": "true",
    }
    assert bank.notices == ["the linked field 'ログインID欄' was not imported"]
    assert bank.payload()["tags"] == ["favorite", "銀行"]


def test_json_password_history_is_reported_not_imported(bw):
    assert bw.notices == ["password history is not imported"]
    assert "Bw-old-pass" not in str([r.payload() for r in bw.records])


def test_json_note_card_and_identity(bw):
    records = by_title(bw)
    assert records["金庫の番号"].notes == "右に3回、左に2回"
    card = records["法人カード"]
    assert card.password is None
    assert card.fields == {
        "Cardholder name": "YAMADA TARO",
        "Brand": "Visa",
        "Number": "4111111111111111",
        "Expiry month": "12",
        "Expiry year": "2030",
        "Security code": "123",
    }
    person = records["山田太郎"]
    assert person.username == "taro"
    assert person.fields["Last name"] == "山田"
    assert person.fields["Postal code"] == "100-0001"
    assert "Middle name" not in person.fields  # null parts are left out


def test_json_passkey_is_reported_and_a_nameless_item_titled_by_its_host(bw):
    item = by_title(bw)["passkey.example.com"]
    assert item.password == "Bw-pass-7"
    assert item.notices == ["a passkey was not imported"]


def test_json_steam_totp_and_unknown_type_are_refused_without_secrets(bw):
    refused = places(bw)
    assert set(refused) == {"item 5", "item 6"}
    assert "Steam Guard" in refused["item 5"]
    assert "item type" in refused["item 6"]
    assert len(bw.records) == 5
    assert_clean(message_texts(bw), *CANARIES)


def test_json_steam_totp_with_skip_bad_totp_keeps_the_login():
    result = read(FILES / "bitwarden.json", "bitwarden-json", skip_bad_totp=True)
    steam = by_title(result)["Steam"]
    assert steam.totp is None and steam.password == "CANARY-steam-pass"
    assert steam.notices == [
        "the 2FA seed was not imported: a Steam Guard (steam://) seed is not a standard 2FA seed"
    ]


def test_encrypted_export_is_refused_with_a_hint():
    with pytest.raises(BadImport, match="encrypted") as caught:
        read(FILES / "bitwarden-encrypted.json", "bitwarden-json")
    assert "'.json'" in caught.value.hint


def test_account_restricted_encrypted_export_is_refused(tmp_path):
    path = tmp_path / "enc.json"
    doc = {"encrypted": True, "encKeyValidation_DO_NOT_EDIT": "2.x|y|z", "folders": [], "items": []}
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(BadImport, match="encrypted"):
        read(path, "bitwarden-json")


def test_organisation_export_collections_become_tags_and_trash_is_skipped(tmp_path):
    doc = {
        "encrypted": False,
        "collections": [{"id": "c1", "organizationId": "o", "name": "経理部", "externalId": None}],
        "items": [
            {"type": 2, "name": "共有メモ", "notes": "n", "collectionIds": ["c1", "zz"]},
            {"type": 2, "name": "消した", "notes": "n", "deletedDate": "2024-01-01T00:00:00Z"},
        ],
    }
    path = tmp_path / "org.json"
    path.write_text(json.dumps(doc), "utf-8")
    result = read(path, "bitwarden-json")
    assert [r.tags for r in result.records] == [["経理部"]]
    assert [(s.place, s.reason) for s in result.skipped] == [("item 2", "in the trash")]


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ("[]", "top level is not an object"),
        ('{"encrypted": false}', "no list of items"),
        ('{"items": [], "folders": "x"}', "malformed"),
        ('{"items": [', "not valid JSON"),
        ("[" * 100_000, "nested too deeply|not valid JSON"),
    ],
)
def test_not_bitwarden_json_is_one_bad_import(tmp_path, doc, why):
    path = tmp_path / "x.json"
    path.write_text(doc, "utf-8")
    with pytest.raises(BadImport, match=why):
        read(path, "bitwarden-json")


def test_a_malformed_item_is_refused_alone(tmp_path):
    items = [
        {"type": 1, "name": "ok", "login": {"username": "u", "password": "p"}},
        {"type": 1, "name": "bad", "login": {"username": 5, "password": "CANARY-shape"}},
        {"type": 1, "name": "bad uris", "login": {"uris": "CANARY-not-a-list"}},
        "CANARY-not-an-object",
        {"type": 1, "name": "bad field", "fields": [{"name": "f", "value": {"x": 1}}]},
    ]
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"items": items}), "utf-8")
    result = read(path, "bitwarden-json")
    assert [r.title for r in result.records] == ["ok"]
    assert set(places(result)) == {"item 2", "item 3", "item 4", "item 5"}
    assert_clean(message_texts(result), "CANARY")


def test_csv_fields_uris_folder_and_favourite():
    result = read(FILES / "bitwarden.csv", "bitwarden-csv")
    kaikei = by_title(result)["会計ソフト"]
    assert kaikei.username == "sato" and kaikei.password == "Bw-pass-1"
    assert kaikei.url == "https://kaikei.example.jp"
    assert kaikei.fields == {
        "URL 2": "https://app.kaikei.example.jp",
        "顧客番号": "00777",
        "PIN": "4321",
    }
    assert kaikei.notes == "経理担当: 佐藤"
    assert kaikei.tags == ["仕事"] and kaikei.favorite is True
    assert kaikei.totp.endswith("secret=GEZDGNBVGY3TQOJQGEZDGNBV")
    note = by_title(result)["Wi-Fi メモ"]
    assert note.notes == "SSID: office" and note.password is None
    assert "Steam Guard" in places(result)["row 4"]
    assert_clean(message_texts(result), "CANARY")


def test_csv_from_an_organisation_has_collections(tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(
        "collections,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n"
        '"経理,総務",login,共有口座,,,0,https://bank.example,u,p,\n',
        "utf-8",
    )
    assert read(path, "bitwarden-csv").records[0].tags == ["経理", "総務"]


def test_a_chrome_file_is_not_a_bitwarden_csv():
    with pytest.raises(
        BadImport, match="not a Bitwarden CSV export: its first row should be"
    ) as caught:
        read(FILES / "chrome.csv", "bitwarden-csv")
    assert_clean(error_texts(caught.value), "Chr0me-pass-1")
