"""Format csv: a spreadsheet saved as CSV, in Japanese or English."""

from __future__ import annotations

import pytest

from tests.transfer.builders import (
    FILES,
    assert_clean,
    by_title,
    error_texts,
    message_texts,
    places,
    read,
    skipped,
)
from vault.errors import BadImport, UsageError

CANARIES = ("CANARY-pw-row8", "CANARY-note-row8", "CANARY-pw-row9", "CANARY0SEED")
CANARIES += ("CANARY-pw-row10",)


@pytest.fixture(scope="module")
def ja():
    return read(FILES / "spreadsheet-ja.csv", "csv")


def test_japanese_sheet_fields(ja):
    rakuten = by_title(ja)["楽天市場"]
    assert rakuten.place == "row 3"
    assert rakuten.username == "00123"  # a text ID keeps its leading zeros
    assert rakuten.password == "Rk-pass-1"
    assert rakuten.url == "https://www.rakuten.co.jp/"
    assert rakuten.notes == "ポイント用\n家族共有"  # the multi-line cell, CRLF or not
    assert (
        rakuten.totp
        == "otpauth://totp/%E6%A5%BD%E5%A4%A9%E5%B8%82%E5%A0%B4?secret=JBSWY3DPEHPK3PXP"
    )
    assert rakuten.tags == ["通販"]
    assert rakuten.favorite is True
    assert rakuten.fields == {"No.": "1"}  # an unknown column is a custom field


def test_japanese_text_and_tags_survive(ja):
    tax = by_title(ja)["髙橋税理士事務所①"]
    assert tax.notes == "顧問契約"
    assert tax.tags == ["会計", "税務"]  # 、 separates tags
    assert tax.favorite is False


def test_a_formula_looking_title_is_kept_as_plain_text(ja):
    formula = by_title(ja)["=cmd|' /C calc'!A0"]
    assert formula.payload()["title"] == "=cmd|' /C calc'!A0"
    assert formula.password == "Fm-pass-2"


def test_title_row_blank_and_total_rows_are_skipped(ja):
    assert skipped(ja) == {
        "row 1": "above the header row",
        "row 5": "blank",
        "row 7": "a total row",
    }


def test_bad_rows_are_refused_with_their_numbers_and_no_secret(ja):
    refused = places(ja)
    assert set(refused) == {"row 8", "row 9", "row 10"}
    assert "no URL or username" in refused["row 8"]
    assert "TOTP" in refused["row 9"] and "not valid" in refused["row 9"]
    assert "position 3" in refused["row 10"] and "U+202E" in refused["row 10"]
    assert len(ja.records) == 3
    assert_clean(message_texts(ja), *CANARIES)
    assert all("CANARY" not in str(record.payload()) for record in ja.records)


def test_skip_bad_totp_keeps_the_row_without_its_totp():
    result = read(FILES / "spreadsheet-ja.csv", "csv", skip_bad_totp=True)
    row9 = by_title(result)["悪い2FA"]
    assert row9.totp is None and row9.password == "CANARY-pw-row9"
    assert any("2FA seed was not imported" in n for n in row9.notices)
    assert "row 9" not in places(result)
    assert_clean(message_texts(result), *CANARIES)


def test_cp932_crlf_file(tmp_path):
    text = 'サイト名,ユーザーID,パスワード,メモ\r\n髙橋商店①,00123,Cp-pass-1,"一行目\r\n二行目"\r\n'
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("cp932"))
    record = read(path, "csv").records[0]
    assert (record.title, record.username, record.password) == ("髙橋商店①", "00123", "Cp-pass-1")
    assert record.notes == "一行目\n二行目"


def test_english_headers_and_values_kept_as_typed():
    record = read(FILES / "spreadsheet-en.csv", "csv").records[0]
    assert record.title == "Acme Bank"
    assert record.username == "ops@example.com"
    assert record.password == "  spaced pass  "  # a password is never stripped
    assert record.url == "bank.example.com"
    assert record.tags == ["Finance"]
    assert record.fields == {"Account number": "00042"}


def test_map_names_the_columns_the_aliases_miss(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(
        "取引先,番号,合言葉,秘密の質問\nA社,0007,Map-pass-1,犬の名前\n", encoding="utf-8"
    )
    result = read(
        path, "csv", mapping={"取引先": "Title", "番号": "username", "合言葉": "password"}
    )
    record = result.records[0]
    assert (record.title, record.username, record.password) == ("A社", "0007", "Map-pass-1")
    assert record.fields == {"秘密の質問": "犬の名前"}
    mapped = read(
        path, "csv", mapping={"番号": "username", "取引先": "title", "秘密の質問": "質問"}
    )
    assert mapped.records[0].fields == {"合言葉": "Map-pass-1", "質問": "犬の名前"}


def test_map_of_an_absent_column_is_a_usage_error(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("サービス名,ID\nA,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--map names a column"):
        read(path, "csv", mapping={"Nope": "title"})


def test_no_recognisable_header_is_one_bad_import_that_does_not_quote_the_data(tmp_path):
    path = tmp_path / "headerless.csv"
    path.write_text("gmail,alice,CANARY-headerless-pw\nyahoo,bob,x\n", encoding="utf-8")
    with pytest.raises(BadImport, match="no column could be recognised") as caught:
        read(path, "csv")
    assert_clean(error_texts(caught.value), "CANARY")


def test_tab_separated_utf16_from_excel_unicode_text(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("名前\tID\tパスワード\r\n楽天\t00123\tTab-pass\r\n".encode("utf-16"))
    record = read(path, "csv").records[0]
    assert (record.title, record.username, record.password) == ("楽天", "00123", "Tab-pass")


def test_a_2fa_column_that_says_yes_or_no_is_kept_as_text_not_refused(tmp_path):
    path = tmp_path / "2fa.csv"
    path.write_text(
        "サービス名,パスワード,二段階認証\nA,p1,あり\nB,p2,なし\nC,p3,SMS\nD,p4,JBSWY3DPEHPK3PXP\n",
        encoding="utf-8",
    )
    records = by_title(read(path, "csv"))
    assert [records[t].fields for t in "ABC"] == [
        {"二段階認証": "あり"},
        {"二段階認証": "なし"},
        {"二段階認証": "SMS"},
    ]
    assert all(records[t].totp is None for t in "ABC")
    assert records["D"].totp == "otpauth://totp/D?secret=JBSWY3DPEHPK3PXP"


def test_a_title_row_with_control_characters_above_the_header_is_only_skipped(tmp_path):
    path = tmp_path / "title.csv"
    path.write_text("一覧\x07表\nサービス名,パスワード\nA,p\n", encoding="utf-8")
    result = read(path, "csv")
    assert [r.title for r in result.records] == ["A"]
    assert skipped(result) == {"row 1": "above the header row"}


def test_a_title_from_the_url_or_the_username(tmp_path):
    path = tmp_path / "untitled.csv"
    path.write_text(
        "サービス名,ID,パスワード,URL\n,u1,p1,https://www.smbc.co.jp/\n,u2@example.jp,p2,\n",
        encoding="utf-8",
    )
    assert [r.title for r in read(path, "csv").records] == ["smbc.co.jp", "u2@example.jp"]


def test_an_unclosed_quote_is_one_clear_bad_import(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('サービス名,パスワード\nA,"CANARY-unclosed\nB,x\n', encoding="utf-8")
    with pytest.raises(BadImport, match="not well-formed CSV near line") as caught:
        read(path, "csv")
    assert_clean(error_texts(caught.value), "CANARY")


def test_a_huge_cell_refuses_the_row_and_a_giant_one_the_file(tmp_path):
    path = tmp_path / "huge.csv"
    big = "x" * (70 << 10)
    path.write_text(f"サービス名,パスワード,メモ\nA,p,{big}\nB,p2,\n", encoding="utf-8")
    result = read(path, "csv")
    assert "longer than" in places(result)["row 2"]
    assert [r.title for r in result.records] == ["B"]
    path.write_text(f"サービス名,パスワード\nA,{'y' * (200 << 10)}\n", encoding="utf-8")
    with pytest.raises(BadImport, match="too large"):
        read(path, "csv")


def test_a_row_with_too_many_cells_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("サービス名,パスワード\nA,p" + ",z" * 600 + "\nB,q\n", encoding="utf-8")
    result = read(path, "csv")
    assert "more than 500 cells" in places(result)["row 2"]
    assert [r.title for r in result.records] == ["B"]


def test_runs_of_blank_rows_are_one_skip(tmp_path):
    path = tmp_path / "blanks.csv"
    path.write_text("サービス名,パスワード\nA,p\n" + ",\n" * 50 + "B,q\n,\n", encoding="utf-8")
    assert skipped(read(path, "csv")) == {"rows 3-52": "blank", "row 54": "blank"}


def test_empty_and_binary_files_are_bad_imports(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BadImport, match="empty"):
        read(empty, "csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(BadImport):
        read(binary, "csv")
