"""detect(): the format from the content first, the extension second."""

from __future__ import annotations

import zipfile

import pytest

from tests.transfer.builders import FILES, make_1pux, read
from vault.errors import BadImport
from vault.transfer.detect import KDBX_MAGIC, detect


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("spreadsheet-ja.csv", "csv"),
        ("spreadsheet-en.csv", "csv"),
        ("chrome.csv", "chrome"),
        ("firefox.csv", "firefox"),
        ("safari.csv", "safari"),
        ("bitwarden.json", "bitwarden-json"),
        ("bitwarden-encrypted.json", "bitwarden-json"),
        ("bitwarden.csv", "bitwarden-csv"),
        ("1password.csv", "1password-csv"),
        ("keepassxc.csv", "keepassxc-csv"),
    ],
)
def test_every_test_file_is_recognised_by_content_under_any_name(tmp_path, name, fmt):
    renamed = tmp_path / "download"  # no extension to lean on
    renamed.write_bytes((FILES / name).read_bytes())
    assert detect(renamed) == fmt


def test_detected_format_reads_through_read_source():
    result = read(FILES / "bitwarden.csv", None)
    assert result.format == "bitwarden-csv" and result.records


def test_1pux_by_its_export_data_even_when_renamed(tmp_path):
    assert detect(make_1pux(tmp_path / "export.zip")) == "1pux"
    assert detect(make_1pux(tmp_path / "export.1pux")) == "1pux"


def test_kdbx_by_magic_and_keepass_xml_by_root(tmp_path):
    kdbx = tmp_path / "db.bin"
    kdbx.write_bytes(KDBX_MAGIC + b"\x01\x00\x04\x00" + bytes(64))
    assert detect(kdbx) == "kdbx"
    xml = tmp_path / "db.txt"
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!-- exported -->\n'
        "<KeePassFile>\n\t<Meta><Generator>KeePassXC</Generator></Meta>\n</KeePassFile>\n",
        "utf-8",
    )
    assert detect(xml) == "keepass-xml"


def test_a_pass_store_folder(tmp_path):
    (tmp_path / ".gpg-id").write_text("ABCDEF\n")
    assert detect(tmp_path) == "pass"


def test_a_cp932_spreadsheet_starting_with_a_kanji_that_looks_like_a_gpg_packet(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes("件名,ID,パスワード\r\n楽天,1,p\r\n".encode("cp932"))
    assert path.read_bytes()[:1] == b"\x8c"
    assert detect(path) == "csv"


def test_a_spreadsheet_larger_than_the_sniffed_head_with_a_split_character(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(("サービス名,メモ\n" + "あ," + "い" * 40000 + "\n").encode("utf-8"))
    assert detect(path) == "csv"


def test_extension_decides_when_the_content_cannot(tmp_path):
    weird = tmp_path / "x.csv"
    weird.write_bytes(b"\xff\xfd\x80\x81")
    assert detect(weird) == "csv"  # and the reader will say why it cannot read it


@pytest.mark.parametrize(
    ("content", "name", "why"),
    [
        (b"\x03\xd9\xa2\x9a\x65\xfb\x4b\xb5" + bytes(16), "old.kdb", "KeePass 1"),
        (b"not a database", "db.kdbx", "not a KeePass database"),
        (b"\x85\x01\x0c\x03" + bytes(40), "entry.gpg", "gpg-encrypted"),
        (b"-----BEGIN PGP MESSAGE-----\n", "entry.asc", "gpg-encrypted"),
        (b"<html><body>hi</body></html>", "page.html", "not a KeePass XML"),
        (b'{"name": "x"}', "x.json", "not a Bitwarden export"),
        (b'{"accounts": []}', "export.data", "inside a 1PUX"),
        (b"\x00\x01\x02\x03\xff" * 10, "blob.bin", "cannot tell"),
        (b"", "empty.csv", "empty"),
        (b"just one line of text", "notes", "cannot tell"),
    ],
)
def test_what_is_not_an_export_is_one_clear_bad_import(tmp_path, content, name, why):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadImport, match=why):
        detect(path)


def test_zips_that_are_not_1pux(tmp_path):
    bw = tmp_path / "bitwarden_export.zip"
    with zipfile.ZipFile(bw, "w") as archive:
        archive.writestr("data.json", "{}")
    with pytest.raises(BadImport, match="Bitwarden's zip export"):
        detect(bw)
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("a.jpg", "x")
    with pytest.raises(BadImport, match="not a 1Password 1PUX"):
        detect(other)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + bytes(30))
    with pytest.raises(BadImport, match="damaged zip"):
        detect(broken)


def test_a_folder_without_gpg_id(tmp_path):
    with pytest.raises(BadImport, match="not a pass store"):
        detect(tmp_path)


TOOL_FILES = {
    "chrome.csv": "chrome",
    "firefox.csv": "firefox",
    "safari.csv": "safari",
    "bitwarden.json": "bitwarden-json",
    "bitwarden.csv": "bitwarden-csv",
    "1password.csv": "1password-csv",
    "keepassxc.csv": "keepassxc-csv",
}
# a spreadsheet reads any CSV with a header; Safari's columns are a subset of 1Password's
ALSO_READS = {("safari.csv", "1password-csv")}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        (name, fmt)
        for name, own in TOOL_FILES.items()
        for fmt in sorted({*TOOL_FILES.values(), "1pux"} - {own})
        if (name, fmt) not in ALSO_READS
    ],
)
def test_a_tools_export_under_the_wrong_format_is_one_bad_import(name, fmt):
    with pytest.raises(BadImport, match="not"):
        read(FILES / name, fmt)
