"""The shared pieces: decoding, titles, names, TOTP, hosts, size caps, fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.errors import BadImport, BadInput, UsageError
from vault.transfer import common, read_source
from vault.transfer.collect import Entry, build
from vault.transfer.common import (
    clean_name,
    clean_title,
    decode_text,
    derive_title,
    host_of,
    map_columns,
    normalize_totp,
    read_bytes,
    truthy,
)
from vault.transfer.record import ReadOptions

SEED = "JBSWY3DPEHPK3PXP"


def test_cp932_decodes_takahashi_and_circled_one_where_shift_jis_fails():
    text = "サービス名,ID\r\n髙橋税理士事務所①,00123\r\n"
    data = text.encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    assert decode_text(data) == text


@pytest.mark.parametrize(
    "data",
    [
        "名前,ID\n楽天,1\n".encode(),
        b"\xef\xbb\xbf" + "名前,ID\n楽天,1\n".encode(),
        "名前,ID\n楽天,1\n".encode("utf-16"),  # with its BOM
    ],
    ids=["utf-8", "utf-8-bom", "utf-16"],
)
def test_utf_forms_decode(data):
    assert decode_text(data) == "名前,ID\n楽天,1\n"


def test_undecodable_and_nul_bytes_are_one_bad_import():
    with pytest.raises(BadImport, match="UTF-8 or CP932"):
        decode_text(b"\x80\x81\xff\xfe\xfd")
    with pytest.raises(BadImport, match="NUL"):
        decode_text(b"a,b\x00c\n")


def test_clean_title_strips_and_normalises():
    assert clean_title("  楽天市場\u3000") == "楽天市場"
    assert clean_title("Cafe\u0301") == "Café"  # NFC
    assert clean_title("=cmd|' /C calc'!A0") == "=cmd|' /C calc'!A0"  # text, not a formula


@pytest.mark.parametrize(
    ("title", "position", "code"),
    [("ab\u202ecd", 3, "U+202E"), ("a\tb", 2, "U+0009"), ("x\u200b", 2, "U+200B")],
    ids=["bidi-override", "tab", "zero-width-space"],
)
def test_clean_title_refuses_control_and_format_characters_naming_the_position(
    title, position, code
):
    with pytest.raises(BadInput) as caught:
        clean_title(title)
    assert f"position {position}" in caught.value.message
    assert code in caught.value.message


def test_title_length_limits():
    assert clean_title("x" * 200) == "x" * 200
    with pytest.raises(BadInput, match="1 to 200"):
        clean_title("x" * 201)
    with pytest.raises(BadInput, match="1 to 200"):
        clean_title("   ")


def test_clean_name_refuses_line_breaks():
    assert clean_name(" 支店番号 ") == "支店番号"
    with pytest.raises(BadInput, match="position 2"):
        clean_name("a\nb")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.rakuten.co.jp/login", "rakuten.co.jp"),
        ("bank.example.com/path", "bank.example.com"),
        ("https://user:CANARY-in-url@site.example/", "site.example"),
        ("https://xn--wgv71a119e.jp/", "日本語.jp"),
        ("https://[::1", None),
        ("", None),
    ],
)
def test_host_of(url, host):
    assert host_of(url) == host


def test_derive_title_prefers_the_host_then_the_username():
    assert derive_title("https://www.example.jp/a", "bob") == "example.jp"
    assert derive_title("", " bob ") == "bob"
    with pytest.raises(BadInput, match="no URL or username"):
        derive_title("", "")


@pytest.mark.parametrize(
    "value",
    [SEED, "jbsw y3dp ehpk 3pxp", "JBSW-Y3DP-EHPK-3PXP", f"otpauth://totp/x?secret={SEED}"],
)
def test_every_totp_form_becomes_one_otpauth_uri(value):
    uri = normalize_totp(value, "楽天")
    assert uri.startswith("otpauth://totp/")
    assert SEED in uri.upper()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("steam://CANARYSTEAM", "Steam"),
        ("CANARY0SEED!", "not valid"),
        ("otpauth://hotp/x?secret=" + SEED, "HOTP"),
        ("ABCD", "too short"),
    ],
)
def test_bad_totp_is_refused_without_echo(value, why):
    with pytest.raises(BadInput) as caught:
        normalize_totp(value, "t")
    assert why in caught.value.message
    assert value not in caught.value.message


def entry(**kw: object) -> Entry:
    return Entry(place="row 2", **kw)  # type: ignore[arg-type]


def test_build_refuses_a_bad_totp_or_keeps_the_record_with_skip_bad_totp():
    bad = entry(title="Bank", password="CANARY-pw", totp="CANARY0SEED")
    with pytest.raises(BadInput) as caught:
        build(bad, ReadOptions())
    assert "2FA seed" in caught.value.message
    assert "CANARY" not in caught.value.message
    record = build(bad, ReadOptions(skip_bad_totp=True))
    assert record.totp is None
    assert record.password == "CANARY-pw"
    assert any("2FA seed was not imported" in n for n in record.notices)
    assert not any("CANARY" in n for n in record.notices)


def test_build_caps_a_value_and_an_entry():
    with pytest.raises(BadInput, match="longer than"):
        build(entry(title="t", notes="x" * (common.MAX_CELL + 1)), ReadOptions())
    many = [(f"f{i}", "x" * (common.MAX_CELL - 10)) for i in range(5)]
    with pytest.raises(BadInput, match="larger than"):
        build(entry(title="t", fields=many), ReadOptions())


def test_build_keeps_custom_fields_apart_from_standard_ones_and_each_other():
    record = build(
        entry(
            title="t",
            fields=[("password", "second"), ("PIN", "1"), ("PIN", "2"), ("PIN", "3"), ("e", " ")],
        ),
        ReadOptions(),
    )
    assert record.fields == {"password (2)": "second", "PIN": "1", "PIN (2)": "2", "PIN (3)": "3"}


def test_build_tags_are_cleaned_and_deduplicated():
    record = build(entry(title="t", tags=["銀行", " 銀行 ", "", "会社"]), ReadOptions())
    assert record.tags == ["銀行", "会社"]
    with pytest.raises(BadInput, match="a tag has a control"):
        build(entry(title="t", tags=["a\x1bb"]), ReadOptions())


def test_truthy_words():
    assert all(truthy(w) for w in ["1", "TRUE", "yes", "○", "★", "はい", " ✓ ", "ｙｅｓ"])
    assert not any(truthy(w) for w in ["", "0", "false", "no", "×", "いいえ"])


def test_map_columns_mapping_and_unknown_columns():
    columns = map_columns(
        ["会員番号", "サービス名", "サービス名", "秘密"],
        {"サービス名": "title"},
        {"会員番号": "username", "秘密": "Secret answer"},
    )
    assert columns.known == {"username": 0, "title": 1}
    assert columns.custom == [(2, "サービス名"), (3, "Secret answer")]


def test_map_columns_refuses_an_absent_column_without_listing_the_header():
    with pytest.raises(UsageError) as caught:
        map_columns(["CANARY-data-as-header", "b"], {}, {"nope": "title"})
    assert "nope" in caught.value.message
    assert "CANARY" not in caught.value.message + (caught.value.hint or "")


def test_a_source_over_the_cap_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(common.MAX_SOURCE + 1)  # sparse: nothing is written or read
    with pytest.raises(BadImport, match="larger than 64 MiB"):
        read_source(big, "csv", ReadOptions())

    def no_open(*args: object, **kw: object) -> None:
        raise AssertionError("opened a file over the cap")

    monkeypatch.setattr("builtins.open", no_open)
    with pytest.raises(BadImport):
        read_bytes(big)


def test_a_missing_file_a_folder_and_a_device_are_bad_imports(tmp_path):
    with pytest.raises(BadImport, match="cannot read"):
        read_bytes(tmp_path / "absent.csv")
    with pytest.raises(BadImport, match="folder"):
        read_bytes(tmp_path)
    with pytest.raises(BadImport, match="not a regular file"):
        read_bytes(Path("/dev/null"))


def test_an_unknown_format_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown import format"):
        read_source(tmp_path / "x", "lastpass", ReadOptions())
