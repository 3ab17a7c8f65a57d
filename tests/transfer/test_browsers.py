"""Formats chrome (and Edge), firefox and safari."""

from __future__ import annotations

import pytest

from tests.transfer.builders import (
    FILES,
    assert_clean,
    by_title,
    error_texts,
    places,
    read,
    skipped,
)
from vault.errors import BadImport, UsageError
from vault.transfer.browsers import android_title


@pytest.fixture(scope="module")
def chrome():
    return read(FILES / "chrome.csv", "chrome")


def test_chrome_fields_and_japanese_note(chrome):
    mizuho = by_title(chrome)["みずほ銀行"]
    assert mizuho.username == "0012345"
    assert mizuho.password == "Mizuho-pass-2"
    assert mizuho.url == "https://www.mizuhobank.co.jp/"
    assert mizuho.notes == "店番 123\n口座 4567"


def test_chrome_exact_duplicates_collapse_into_one_with_a_notice(chrome):
    same = [r for r in chrome.records if r.title == "example.com"]
    assert len(same) == 1
    assert same[0].place == "row 2"
    assert same[0].password == "Chr0me-pass-1"
    assert same[0].notices == ["row 3 was identical and was merged into this one"]
    assert skipped(chrome) == {"row 3": "the same login as row 2"}


def test_chrome_android_login_gets_a_readable_title(chrome):
    app = by_title(chrome)["twitter (Android)"]
    assert app.username == "bob" and app.password == "Tw-pass-3"
    assert app.url.startswith("android://")
    assert app.fields == {"Android app": "com.twitter.android"}


def test_chrome_row_without_a_name_is_titled_by_its_host(chrome):
    assert by_title(chrome)["shop.example.jp"].username == "carol"
    assert len(chrome.records) == 4 and not chrome.refused


@pytest.mark.parametrize(
    ("package", "title"),
    [
        ("com.twitter.android", "twitter (Android)"),
        ("jp.co.smbc.direct", "smbc.direct (Android)"),
        ("com.google.android.gm", "google.android.gm (Android)"),
        ("app", "app (Android)"),
    ],
)
def test_android_titles(package, title):
    assert android_title(package) == title


def test_edge_old_chrome_header_without_note(tmp_path):
    path = tmp_path / "edge.csv"
    path.write_text("name,url,username,password\nbank,https://bank.example,u,p\n", "utf-8")
    record = read(path, "chrome").records[0]
    assert (record.title, record.username, record.password) == ("bank", "u", "p")


def test_firefox_titles_from_the_host_realm_kept_and_accounts_row_skipped():
    result = read(FILES / "firefox.csv", "firefox")
    titles = by_title(result)
    assert set(titles) == {"accounts.example.org", "intranet.example.co.jp"}
    assert titles["accounts.example.org"].password == "Fx-pass-1"
    assert titles["accounts.example.org"].fields == {}  # guid, times, form origin: not kept
    assert titles["intranet.example.co.jp"].fields == {"HTTP realm": "社内ポータル"}
    assert skipped(result) == {"row 4": "the Firefox account's own sync key, not a website login"}


def test_safari_totp_and_derived_title():
    result = read(FILES / "safari.csv", "safari")
    frank = by_title(result)["example.org (frank)"]
    assert frank.totp.startswith("otpauth://totp/example.org:frank?secret=JBSWY3DPEHPK3PXP")
    assert frank.notes == "メモです"
    assert by_title(result)["yahoo.co.jp"].password == "Saf-pass-2"


def test_safari_bad_otpauth_refuses_the_row(tmp_path):
    path = tmp_path / "safari.csv"
    path.write_text(
        "Title,URL,Username,Password,Notes,OTPAuth\n"
        "A,https://a.example,u,CANARY-pw,,otpauth://totp/a?secret=CANARY0\n",
        "utf-8",
    )
    result = read(path, "safari")
    assert not result.records
    reason = places(result)["row 2"]
    assert "TOTP" in reason and "CANARY" not in reason


@pytest.mark.parametrize(
    ("fmt", "other"),
    [("chrome", "firefox.csv"), ("firefox", "chrome.csv"), ("safari", "chrome.csv")],
)
def test_another_browsers_file_is_not_this_browsers_export(fmt, other):
    with pytest.raises(BadImport, match="its first row should be the header") as caught:
        read(FILES / other, fmt)
    assert_clean(error_texts(caught.value), "pass-1")


def test_map_is_for_spreadsheets_only():
    with pytest.raises(UsageError, match="--map applies to --format csv"):
        read(FILES / "chrome.csv", "chrome", mapping={"name": "title"})
