"""Reading KeePass: files written by the real KeePassXC (keepassxc-cli), every TOTP form,
and hostile files, which must each end in one takusu error and never leak a secret."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time
from pathlib import Path

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transfer.keepass_xml import document, entry, group
from tests.transfer.kpxc import KeePassXC
from vault import totp as vault_totp
from vault.errors import BadImport, TakusuError, UsageError
from vault.transfer import keepass
from vault.transfer.record import ReadOptions, ReadResult

PW = "kdbx-パスワード-1"
BANK_PW = "CANARY-bank-pw-7f3a"
MAIL_PW = "CANARY-mail-pw-19c2"
SEED_URI = "CANARYURIAAAAAAAAAAAAAAAAAAAAAA2"  # base32, 160 bits
SEED_LEGACY = "CANARYLEGACYAAAAAAAAAAAAAAAAAAA2"
SEED_247 = "CANARYKEEPASSAAAAAAAAAAAAAAAAAA2"
SEED_KEEOTP = "CANARYKEEOTPAAAAAAAAAAAAAAAAAAA2"
SEED_BARE = "CANARYBAREAAAAAAAAAAAAAAAAAAAA22"
SEED_PADDED = "CANARYPADDEDAAAAAAA2===="  # 100 bits, padded as some sites print it
HEX_SECRET = "43414e4152592d6865782d73656372657421"  # "CANARY-hex-secret!"
TEXT_SECRET = "CANARY-text-secret-0123"
CANARIES = [BANK_PW, MAIL_PW, "CANARY"]
AT = 1_700_000_000  # a fixed moment to compare TOTP codes at


def opts(password: str = PW, **kw) -> ReadOptions:
    return ReadOptions(password=lambda: password, **kw)


def code(seed: str, at: float, digits: int = 6, digest=hashlib.sha1, interval: int = 30) -> str:
    return pyotp.TOTP(seed, digits=digits, digest=digest, interval=interval).at(int(at))


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in str(text), text


def everything_shown(result: ReadResult) -> list[str]:
    """Every text a reader's result may put in front of a person."""
    out = list(result.notices)
    for r in result.refused + result.skipped:
        out += [r.place, r.reason]
    for rec in result.records:
        out += [rec.place, repr(rec), *rec.notices]
    return out


# ---------------------------------------------------------------- written by keepassxc-cli


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> KeePassXC:
    return KeePassXC(tmp_path_factory.mktemp("kpxc-home"))


@pytest.fixture(scope="module")
def made_by_cli(cli, tmp_path_factory) -> tuple[Path, Path]:
    """A database built entry by entry with keepassxc-cli, and that tool's XML export of it."""
    folder = tmp_path_factory.mktemp("cli-db")
    db = folder / "cli.kdbx"
    unlock = f"{PW}\n"
    cli.create(db, PW)
    cli.run("mkdir", str(db), "Banking", stdin=unlock)
    cli.run("mkdir", str(db), "Banking/Japan", stdin=unlock)
    cli.run(
        "add", "-u", "smbc-user", "--url", "https://www.smbc.co.jp/",
        "--notes", "振込用\n月末に残高を確認", "-p", str(db), "Banking/Japan/三井住友銀行",
        stdin=f"{PW}\n{BANK_PW}\n",
    )  # fmt: skip
    cli.run("add", "-u", "taro@example.jp", "-p", str(db), "メール", stdin=f"{PW}\n{MAIL_PW}\n")
    cli.run("add", "-u", "gone", "-p", str(db), "Old login", stdin=f"{PW}\nCANARY-old\n")
    cli.run("rm", str(db), "Old login", stdin=unlock)  # into the recycle bin
    cli.run("edit", "-u", "smbc-user2", str(db), "Banking/Japan/三井住友銀行", stdin=unlock)
    scan = folder / "scan.txt"
    scan.write_text("CANARY attachment body")
    cli.run("attachment-import", str(db), "メール", "scan.txt", str(scan), stdin=unlock)
    xml = folder / "cli.xml"
    xml.write_text(cli.run("export", "-f", "xml", str(db), stdin=unlock), encoding="utf-8")
    return db, xml


CLI_EXPECTED = {
    "三井住友銀行": {
        "title": "三井住友銀行",
        "username": "smbc-user2",
        "password": BANK_PW,
        "url": "https://www.smbc.co.jp/",
        "notes": "振込用\n月末に残高を確認",
        "totp": None,
        "fields": {},
        "tags": ["Banking/Japan"],
    },
    "メール": {
        "title": "メール",
        "username": "taro@example.jp",
        "password": MAIL_PW,
        "url": None,
        "notes": None,
        "totp": None,
        "fields": {},
        "tags": [],
    },
}


@pytest.mark.parametrize("which", ["kdbx", "keepass-xml"])
def test_a_database_written_by_keepassxc_reads_field_for_field(made_by_cli, which):
    db, xml = made_by_cli
    result = keepass.read(db if which == "kdbx" else xml, which, opts())
    assert result.format == which
    assert {r.title: r.payload() for r in result.records} == CLI_EXPECTED
    places = {r.title: r.place for r in result.records}
    assert places == {
        "三井住友銀行": 'entry "三井住友銀行" in Banking/Japan',
        "メール": 'entry "メール"',
    }
    assert result.refused == []
    assert [(s.place, s.reason) for s in result.skipped] == [
        ('entry "Old login" in Recycle Bin', "in the recycle bin")
    ]
    assert any("history" in n for n in result.notices)  # the edit left an older version
    mail = next(r for r in result.records if r.title == "メール")
    assert mail.notices == ["1 attachment was not imported (takusu keeps no files)"]
    assert_no_secret(*everything_shown(result))


def test_keepassxc_cli_writes_kdbx_4_with_aes_kdf_which_reads_fast(made_by_cli):
    db, _ = made_by_cli
    major = struct.unpack_from("<H", db.read_bytes(), 10)[0]
    assert major == 4
    started = time.monotonic()
    keepass.read(db, "kdbx", opts())
    assert time.monotonic() - started < 10  # ~4M AES-KDF rounds: pykeepass's own loop takes ~20 s


def test_wrong_password_is_one_line_and_names_key_files(made_by_cli):
    db, _ = made_by_cli
    with pytest.raises(BadImport) as caught:
        keepass.read(db, "kdbx", opts("not the password"))
    assert "wrong password" in caught.value.message and "key file" in caught.value.message
    assert "\n" not in caught.value.message
    assert "not the password" not in str(caught.value) + str(caught.value.hint)


def test_a_key_file_database_says_key_files_are_not_supported(cli, tmp_path):
    db = tmp_path / "keyfile.kdbx"
    key = tmp_path / "db.key"
    cli.run("db-create", "-p", "--set-key-file", str(key), str(db), stdin=f"{PW}\n{PW}\n")
    assert key.exists()
    with pytest.raises(BadImport, match="key file"):
        keepass.read(db, "kdbx", opts())


def test_the_password_is_asked_only_for_a_kdbx(made_by_cli):
    db, xml = made_by_cli
    asked = []
    keepass.read(xml, "keepass-xml", ReadOptions(password=lambda: asked.append(1) or PW))
    assert asked == []
    with pytest.raises(UsageError):
        keepass.read(db, "kdbx", ReadOptions())


# ---------------------------------------------------------------- TOTP in every form


def totp_document() -> bytes:
    uri = f"otpauth://totp/SMBC:taro?secret={SEED_URI}&issuer=SMBC"
    return document(
        group(
            "Banking",
            group(
                "Japan",
                entry(
                    {
                        "Title": "三井住友銀行",
                        "UserName": "taro",
                        "Password": BANK_PW,
                        "URL": "https://www.smbc.co.jp/",
                        "Notes": "振込用",
                        "otp": uri,
                        "支店番号": "123",
                        "暗証番号": "CANARY-pin-4821",
                    },
                    tags="bank;重要",
                    protected=("Password", "otp", "暗証番号"),
                ),
            ),
        ),
        entry({"Title": "Legacy", "TOTP Seed": SEED_LEGACY, "TOTP Settings": "60;8"}),
        entry(
            {
                "Title": "KeePass 2.47",
                "TimeOtp-Secret-Base32": SEED_247,
                "TimeOtp-Length": "8",
                "TimeOtp-Algorithm": "HMAC-SHA-256",
            }
        ),
        entry({"Title": "KeePass hex", "TimeOtp-Secret-Hex": HEX_SECRET, "TimeOtp-Period": "60"}),
        entry({"Title": "KeePass text", "TimeOtp-Secret": TEXT_SECRET}),
        entry({"Title": "KeeOTP", "otp": f"key={SEED_KEEOTP}&step=30&size=6"}),
        entry(
            {"Title": "Bare seed", "otp": " ".join(SEED_BARE[i : i + 4] for i in range(0, 32, 4))}
        ),
        entry({"Title": "Padded", "TOTP Seed": SEED_PADDED}),
        entry({"Title": "Steam", "TOTP Seed": SEED_LEGACY, "TOTP Settings": "30;S"}),
        entry({"Title": "Broken seed", "Password": BANK_PW, "otp": "otpauth://totp/x?secret=1!"}),
    )


@pytest.fixture(scope="module")
def totp_files(cli, tmp_path_factory) -> dict[str, Path]:
    """The TOTP forms as XML, imported into a .kdbx by keepassxc-cli (its 2.7.4 CLI cannot
    set TOTP or custom attributes one by one), and that database exported again by it."""
    folder = tmp_path_factory.mktemp("totp")
    source = folder / "source.xml"
    source.write_bytes(totp_document())
    db = folder / "totp.kdbx"
    cli.import_xml(source, db, PW)
    exported = folder / "exported.xml"
    exported.write_text(cli.run("export", "-f", "xml", str(db), stdin=f"{PW}\n"), encoding="utf-8")
    return {"source": source, "kdbx": db, "exported": exported}


def expected_codes(at: float) -> dict[str, str]:
    return {
        "三井住友銀行": code(SEED_URI, at),
        "Legacy": code(SEED_LEGACY, at, digits=8, interval=60),
        "KeePass 2.47": code(SEED_247, at, digits=8, digest=hashlib.sha256),
        "KeePass hex": code(base64.b32encode(bytes.fromhex(HEX_SECRET)).decode(), at, interval=60),
        "KeePass text": code(base64.b32encode(TEXT_SECRET.encode()).decode(), at),
        "KeeOTP": code(SEED_KEEOTP, at),
        "Bare seed": code(SEED_BARE, at),
        "Padded": code(SEED_PADDED, at),
    }


def test_keepassxc_itself_shows_the_totp_it_stored(cli, totp_files):
    db = totp_files["kdbx"]
    for title, path in [("三井住友銀行", "Banking/Japan/三井住友銀行"), ("Legacy", "Legacy")]:
        for _ in range(3):  # a code can roll over between the two computations
            before = expected_codes(time.time())[title]
            shown = cli.totp(db, PW, path)
            if shown == before or shown == expected_codes(time.time())[title]:
                break
        else:
            raise AssertionError(f"KeePassXC shows another TOTP for {title}")


@pytest.mark.parametrize("which", ["source", "kdbx", "exported"])
def test_every_totp_form_becomes_a_validated_otpauth_uri(totp_files, which):
    fmt = "kdbx" if which == "kdbx" else "keepass-xml"
    result = keepass.read(totp_files[which], fmt, opts())
    records = {r.title: r for r in result.records}
    assert set(records) == set(expected_codes(AT))
    for title, expected in expected_codes(AT).items():
        uri = records[title].totp
        assert uri is not None and uri.startswith("otpauth://totp/")
        assert vault_totp.normalize(uri) == uri
        assert vault_totp.current(uri, at=AT).code == expected, title
        assert records[title].fields == ({"支店番号": "123", "暗証番号": "CANARY-pin-4821"}
                                         if title == "三井住友銀行" else {})  # fmt: skip
    bank = records["三井住友銀行"].payload()
    assert bank["tags"] == ["Banking/Japan", "bank", "重要"]
    assert (bank["username"], bank["password"], bank["notes"]) == ("taro", BANK_PW, "振込用")
    refused = {r.place: r.reason for r in result.refused}
    assert set(refused) == {'entry "Steam"', 'entry "Broken seed"'}
    assert "Steam" in refused['entry "Steam"']
    assert "2FA seed" in refused['entry "Broken seed"']
    assert_no_secret(*everything_shown(result))
    for seed in (SEED_URI, SEED_LEGACY, SEED_247, SEED_KEEOTP, SEED_BARE):
        assert all(seed not in text for text in everything_shown(result))


def test_skip_bad_totp_imports_the_entry_and_keeps_the_original(totp_files):
    result = keepass.read(totp_files["source"], "keepass-xml", opts(skip_bad_totp=True))
    records = {r.title: r for r in result.records}
    assert result.refused == []
    steam, broken = records["Steam"], records["Broken seed"]
    assert steam.totp is None and broken.totp is None
    assert steam.fields == {"TOTP Seed": SEED_LEGACY, "TOTP Settings": "30;S"}
    assert broken.fields == {"otp": "otpauth://totp/x?secret=1!"} and broken.password == BANK_PW
    assert "Steam" in steam.notices[0] and "not imported" in broken.notices[0]
    assert_no_secret(*everything_shown(result))


# ---------------------------------------------------------------- groups, tags, titles


def write(tmp_path: Path, data: bytes, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_groups_become_one_tag_and_the_recycle_bin_and_templates_are_skipped(tmp_path):
    bin_uuid, templates = "Ym0AAAAAAAAAAAAAAAAAAA==", "dGVtcGxhdGVzAAAAAAAAAA=="
    data = document(
        group("A", group("B", group("C", entry({"Title": "deep"}, tags="x, y")))),
        group(
            "Recycle Bin",
            entry({"Title": "binned"}),
            group("sub", entry({"Title": "sub"})),
            uuid_=bin_uuid,
        ),  # fmt: skip
        group("Templates", entry({"Title": "template"}), uuid_=templates),
        entry({"Title": "", "URL": "https://example.co.jp/login"}),
        entry({"Title": "", "UserName": "nobody"}),
        recycle_bin=bin_uuid,
    ).replace(
        b"<EntryTemplatesGroup>AAAAAAAAAAAAAAAAAAAAAA==",
        f"<EntryTemplatesGroup>{templates}".encode(),
    )
    result = keepass.read(write(tmp_path, data), "keepass-xml", opts())
    assert [(r.title, r.tags) for r in result.records] == [
        ("deep", ["x", "y", "A/B/C"]),
        ("example.co.jp", []),
    ]
    assert [s.reason for s in result.skipped] == ["in the recycle bin"] * 2 + ["an entry template"]
    assert [r.place for r in result.refused] == ["entry 6"]
    assert "no title" in result.refused[0].reason


@pytest.mark.parametrize(
    "title",
    ["evil\u202etxt.exe", "tab\there", "del\x7f", "ne\x85l", "zero\u200bwidth", "line\u2028break"],
)
def test_a_title_with_control_or_format_characters_refuses_the_entry(tmp_path, title):
    data = document(entry({"Title": title, "Password": BANK_PW}), entry({"Title": "fine"}))
    result = keepass.read(write(tmp_path, data), "keepass-xml", opts())
    assert [r.title for r in result.records] == ["fine"]
    (refusal,) = result.refused
    assert "control" in refusal.reason
    assert all(ch.isprintable() for ch in refusal.place), refusal.place
    assert_no_secret(*everything_shown(result))


def test_an_entry_over_64_kib_is_refused_and_the_rest_read(tmp_path):
    data = document(
        entry({"Title": "huge", "Password": BANK_PW, "Notes": "CANARY" * 11_000}),
        entry({"Title": "many", **{f"f{i}": "x" * 1000 for i in range(70)}}),
        entry({"Title": "fine", "Notes": "ノート" * 5000}),  # 45 KiB of UTF-8
    )
    result = keepass.read(write(tmp_path, data), "keepass-xml", opts())
    assert [r.title for r in result.records] == ["fine"]
    assert [r.place for r in result.refused] == ['entry "huge"', 'entry "many"']
    assert all("64 KiB" in r.reason for r in result.refused)
    assert_no_secret(*everything_shown(result))


def test_a_repeated_or_bad_field_name_refuses_the_entry(tmp_path):
    twice = entry({"Title": "twice", "Password": BANK_PW}).replace(
        "</String>", "</String><String><Key>Password</Key><Value>CANARY2</Value></String>", 1
    )
    data = document(
        twice,
        entry({"Title": "tabbed", "na\tme": "CANARY-v"}),
        entry({"Title": "ok"}),
        group("G\u202e", entry({"Title": "g"})),
    )
    result = keepass.read(write(tmp_path, data), "keepass-xml", opts())
    assert [r.title for r in result.records] == ["ok"]
    reasons = {r.place: r.reason for r in result.refused}
    assert "twice" in reasons['entry "twice"']
    assert "field name" in reasons['entry "tabbed"']
    assert "group" in reasons['entry "g" in G\\u202e']
    assert_no_secret(*everything_shown(result))


def test_a_character_xml_cannot_carry_makes_the_file_not_well_formed(tmp_path):
    data = document(entry({"Title": "esc", "Notes": "a&#27;b"})).replace(b"&amp;#27;", b"&#27;")
    with pytest.raises(BadImport, match="well-formed"):
        keepass.read(write(tmp_path, data), "keepass-xml", opts())


# ---------------------------------------------------------------- hostile files

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE KeePassFile [
 <!ENTITY a "CANARYCANARYCANARYCANARY">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<KeePassFile><Root><Group><UUID>AAAAAAAAAAAAAAAAAAAAAA==</UUID><Name>r</Name>
<Entry><String><Key>Title</Key><Value>&g;</Value></String></Entry></Group></Root></KeePassFile>
"""


def test_an_entity_bomb_is_refused_quickly(tmp_path):
    started = time.monotonic()
    with pytest.raises(BadImport) as caught:
        keepass.read(write(tmp_path, BOMB), "keepass-xml", opts())
    assert time.monotonic() - started < 2
    assert_no_secret(caught.value)


@pytest.fixture
def listener():
    """A socket on the loopback that records whether anything connected to it."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def connected(server) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE KeePassFile [<!ENTITY x SYSTEM "{file}">]>',
        '<!DOCTYPE KeePassFile [<!ENTITY x SYSTEM "{url}">]>',
        '<!DOCTYPE KeePassFile SYSTEM "{url}">',
        '<!DOCTYPE KeePassFile [<!ENTITY % p SYSTEM "{url}"> %p;]>',
        '<!DOCTYPE KeePassFile [<!ENTITY % p SYSTEM "{file}"> %p;]>',
    ],
)
def test_an_external_entity_or_dtd_is_never_fetched(tmp_path, listener, doctype):
    canary = tmp_path / "secret.txt"
    canary.write_text("CANARY-file-contents")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/CANARY"
    value = "t &x;" if "ENTITY x" in doctype else "t"
    body = (
        f'<?xml version="1.0"?>{doctype.format(file=canary.as_uri(), url=url)}<KeePassFile>'
        "<Root><Group><UUID>AAAAAAAAAAAAAAAAAAAAAA==</UUID><Name>r</Name><Entry><String>"
        f"<Key>Title</Key><Value>{value}</Value></String></Entry></Group></Root></KeePassFile>"
    )
    with pytest.raises(BadImport, match="DOCTYPE") as caught:
        keepass.read(write(tmp_path, body.encode()), "keepass-xml", opts())
    assert_no_secret(caught.value, caught.value.hint)
    assert not connected(listener)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "well-formed"),
        (b"not xml at all", "well-formed"),
        (b"<?xml version='1.0'?><html><body>CANARY</body></html>", "not a KeePass"),
        (b"<KeePassFile><Meta/></KeePassFile>", "no root group"),
        (b"<KeePassFile><Root><Group><Entry>", "well-formed"),
        (b"\xff\xfe<\x00K\x00", "well-formed"),
    ],
)
def test_an_xml_that_is_not_a_keepass_export_is_refused(tmp_path, data, words):
    with pytest.raises(BadImport, match=words) as caught:
        keepass.read(write(tmp_path, data), "keepass-xml", opts())
    assert_no_secret(caught.value)


def test_encrypted_values_in_an_xml_are_refused(tmp_path):
    data = document(entry({"Title": "t", "Password": "c2VjcmV0"})).replace(
        b'ProtectInMemory="True"', b'Protected="True"'
    )
    with pytest.raises(BadImport, match="encrypted values"):
        keepass.read(write(tmp_path, data), "keepass-xml", opts())


@pytest.fixture(scope="module")
def small_kdbx(tmp_path_factory) -> Path:
    """A tiny .kdbx with a light KDF (written by takusu's exporter, opened by KeePassXC in
    test_kdbx_export) for the hostile cases that need many tries."""
    from vault.transfer.export import KdfParams, write_kdbx

    path = tmp_path_factory.mktemp("small") / "small.kdbx"
    items = [
        {
            "title": "t",
            "username": "u",
            "password": BANK_PW,
            "url": None,
            "notes": "CANARY notes",
            "totp": None,
            "fields": {},
            "tags": [],
        }
    ]
    write_kdbx(path, items, PW, kdf_params=KdfParams(memory_kib=64, iterations=1, parallelism=1))
    return path


def test_truncated_and_garbage_kdbx_files_are_refused(small_kdbx, tmp_path):
    data = small_kdbx.read_bytes()
    cases = [b"", b"garbage" * 100, data[:8], data[:12], data[:40], data[:200], data[:-40]]
    cases.append(data[:-200] + bytes(200))
    cases.append(data[:300] + bytes([data[300] ^ 1]) + data[301:])
    cases.append(b"\x03\xd9\xa2\x9a\x65\xfb\x4b\xb5" + bytes(100))  # KeePass 1 .kdb
    cases.append(data[:8] + b"\x00\x00\x02\x00" + data[12:])  # KDBX 2
    for i, case in enumerate(cases):
        with pytest.raises(BadImport) as caught:
            keepass.read(write(tmp_path, case, f"{i}.kdbx"), "kdbx", opts())
        assert "\n" not in caught.value.message
        assert_no_secret(caught.value)


def kdf_field(data: bytes, key: bytes) -> int:
    """Where the KDF parameter `key` (an 8-byte integer) sits in a KDBX 4 header."""
    at = data.index(b"\x05" + struct.pack("<i", len(key)) + key)
    return at + 5 + len(key) + 4


@pytest.mark.parametrize(
    "key, value, words",
    [(b"M", 4 << 30, "MiB"), (b"I", 10**9, "iterations"), (b"M", 0, "MiB")],
)
def test_a_kdbx_asking_for_too_much_memory_or_time_is_refused_before_the_kdf_runs(
    small_kdbx, tmp_path, key, value, words
):
    data = bytearray(small_kdbx.read_bytes())
    at = kdf_field(bytes(data), key)
    data[at : at + 8] = struct.pack("<Q", value)
    started = time.monotonic()
    with pytest.raises(BadImport, match=words):
        keepass.read(write(tmp_path, bytes(data), "costly.kdbx"), "kdbx", opts())
    assert time.monotonic() - started < 1


def test_a_kdbx_that_unpacks_past_the_limit_is_refused(small_kdbx, monkeypatch):
    monkeypatch.setattr(keepass, "MAX_XML", 100)
    with pytest.raises(BadImport, match="unpacks to more"):
        keepass.read(small_kdbx, "kdbx", opts())
    monkeypatch.undo()
    assert keepass.read(small_kdbx, "kdbx", opts()).records  # and the limit is put back


def test_a_file_that_is_not_a_regular_file_or_too_big_is_refused(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    cases = [(fifo, "regular"), (tmp_path, "folder"), (tmp_path / "none.xml", "does not exist")]
    for path, words in cases:
        with pytest.raises(BadImport, match=words):
            keepass.read(path, "keepass-xml", opts())
    monkeypatch.setattr(keepass, "MAX_FILE", 10)
    with pytest.raises(BadImport, match="larger"):
        keepass.read(write(tmp_path, document()), "keepass-xml", opts())


def test_an_unknown_format_name_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        keepass.read(write(tmp_path, document()), "csv", opts())


# ---------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_result(result: ReadResult) -> None:
    for record in result.records:
        assert record.title and not keepass._has_bad_chars(record.title)
        if record.totp is not None:
            assert vault_totp.normalize(record.totp) == record.totp
    for text in everything_shown(result):
        assert isinstance(text, str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert", "truncate", "repeat"]),
            st.integers(0, 1 << 20),
            st.binary(min_size=1, max_size=12),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_mutations_of_a_real_export_only_raise_takusu_errors(
    made_by_cli, fuzz_dir, mutations
):
    data = bytearray(made_by_cli[1].read_bytes())
    for op, at, blob in mutations:
        at %= max(len(data), 1)
        if op == "flip" and data:
            data[at] ^= blob[0] or 1
        elif op == "delete":
            del data[at : at + len(blob) * 8]
        elif op == "insert":
            data[at:at] = blob
        elif op == "truncate":
            del data[at:]
        elif op == "repeat":
            data[at:at] = data[at : at + len(blob) * 16]
    path = fuzz_dir / "mutated.xml"
    path.write_bytes(bytes(data))
    try:
        result = keepass.read(path, "keepass-xml", opts())
    except TakusuError as exc:
        assert exc.message and "\n" not in exc.message
        return
    check_result(result)


TEXTS = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]).filter(
        lambda c: c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff")
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_edits_of_the_xml_tree_only_raise_takusu_errors(totp_files, fuzz_dir, data):
    """Structure-aware: well-formed documents with elements moved, dropped, doubled,
    renamed or given other text, so the walker itself is what gets fuzzed."""
    from lxml import etree

    root = etree.fromstring(totp_files["exported"].read_bytes())
    elements = list(root.iter())
    for _ in range(data.draw(st.integers(1, 6))):
        node = data.draw(st.sampled_from(elements))
        op = data.draw(st.sampled_from(["text", "drop", "double", "rename", "protect", "move"]))
        parent = node.getparent()
        if op == "text":
            node.text = data.draw(TEXTS)
        elif op == "drop" and parent is not None:
            parent.remove(node)
        elif op == "double" and parent is not None:
            parent.append(etree.fromstring(etree.tostring(node)))
        elif op == "rename":
            node.tag = data.draw(st.sampled_from(["Entry", "Group", "String", "Key", "Value", "X"]))
        elif op == "protect":
            node.set("Protected", "True")
        elif op == "move" and parent is not None:
            target = data.draw(st.sampled_from(elements))
            if node not in target.iterancestors() and target is not node:
                target.append(node)
    path = fuzz_dir / "edited.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    try:
        result = keepass.read(path, "keepass-xml", opts())
    except TakusuError as exc:
        assert exc.message and "\n" not in exc.message
        return
    check_result(result)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1 << 16), st.integers(1, 255), st.booleans())
def test_random_damage_to_a_kdbx_only_raises_takusu_errors(small_kdbx, fuzz_dir, at, xor, cut):
    data = bytearray(small_kdbx.read_bytes())
    at %= len(data)
    if cut:
        del data[at:]
    else:
        data[at] ^= xor
    path = fuzz_dir / "damaged.kdbx"
    path.write_bytes(bytes(data))
    with pytest.raises(TakusuError) as caught:
        keepass.read(path, "kdbx", opts())
    assert "\n" not in caught.value.message
    assert_no_secret(caught.value)


@pytest.mark.parametrize("key", [b"M", b"I", b"P"])
def test_a_kdf_parameter_of_the_wrong_type_is_damage_not_a_crash(small_kdbx, tmp_path, key):
    """Found by the fuzz test above: an Argon2 parameter stored as bytes, not an integer."""
    data = bytearray(small_kdbx.read_bytes())
    at = data.index(b"\x01\x00\x00\x00" + key) - 1  # the entry's type byte, then its name
    assert data[at] in (0x04, 0x05)  # UInt32 or UInt64
    data[at] = 0x42  # a byte array
    path = tmp_path / "typed.kdbx"
    path.write_bytes(bytes(data))
    with pytest.raises(BadImport, match="its key derivation settings are unreadable"):
        keepass.read(path, "kdbx", opts())


def test_a_doctype_in_a_utf16_document_is_refused_too(tmp_path):
    body = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE KeePassFile [<!ENTITY x "CANARY">]>'
        "<KeePassFile><Root><Group><Name>&x;</Name></Group></Root></KeePassFile>"
    )
    with pytest.raises(BadImport, match="DOCTYPE"):
        keepass.read(write(tmp_path, body.encode("utf-16")), "keepass-xml", opts())


def test_a_kdbx_3_1_file_as_keepass_2_writes_it(cli, tmp_path):
    from tests.transfer import kdbx3

    xml = document(
        group(
            "銀行",
            entry(
                {
                    "Title": "ゆうちょ",
                    "UserName": "hanako",
                    "Password": BANK_PW,
                    "Notes": "<通帳> & カード",
                    "otp": f"key={SEED_KEEOTP}",
                },
                protected=("Password", "otp"),
            ),
        ),  # fmt: skip
        entry({"Title": "plain", "Password": MAIL_PW}),
    ).replace(b'ProtectInMemory="True"', b'Protected="True"')
    db = write(tmp_path, kdbx3.build(xml, PW), "old.kdbx")
    assert struct.unpack_from("<HH", db.read_bytes(), 8) == (1, 3)
    assert cli.attribute(db, PW, "銀行/ゆうちょ", "Password") == BANK_PW  # KeePassXC agrees
    result = keepass.read(db, "kdbx", opts())
    assert [r.payload() for r in result.records] == [
        {
            "title": "ゆうちょ",
            "username": "hanako",
            "password": BANK_PW,
            "url": None,
            "notes": "<通帳> & カード",
            "totp": result.records[0].totp,
            "fields": {},
            "tags": ["銀行"],
        },
        {**CLI_EXPECTED["メール"], "title": "plain", "username": None},
    ]
    assert vault_totp.current(result.records[0].totp, at=AT).code == code(SEED_KEEOTP, AT)
    with pytest.raises(BadImport, match="wrong password"):
        keepass.read(db, "kdbx", opts("wrong"))
