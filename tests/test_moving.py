"""Moving in and out through the CLI: `takusu import` of each format into a real vault,
`--dry-run` without the vault, re-imports, the audit, and `takusu export` opened by the real
keepassxc-cli, then imported back into a fresh vault with every field equal.

The readers themselves are tested format by format in tests/transfer/; here each format
goes all the way into the vault's log and back out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ok
from tests.transfer.builders import make_1pux
from tests.transfer.kpxc import KeePassXC
from tests.world import GITHUB, World, build
from vault import totp
from vault.errors import BadImport
from vault.item import Payload, empty_payload
from vault.totp import normalize

FILES = Path(__file__).resolve().parent / "transfer" / "files"
KDBX_PASSWORD = "export-password-canary"  # noqa: S105

# A sheet as Japanese Excel saves "CSV (comma separated)": CP932 with CRLF. 髙 and ① are
# not in Shift_JIS proper, only in CP932.
SHEET_JA = (
    "サービス名,ログインID,パスワード,URL,備考\r\n"
    "髙島屋オンライン,00123,pw-takashimaya-1,https://www.takashimaya.co.jp/,①会員番号あり\r\n"
    'freee会計,keiri@example.jp,pw-freee-2,https://secure.freee.co.jp/,"二行の\r\nメモ"\r\n'
    ",,,,\r\n"
    "合計,,,,\r\n"
    "壊れた2FA,x,CANARY-row-pw,https://example.jp/,\r\n"
)


def need(tool: str) -> None:
    """Fail, never skip, without the real tool (apt package keepassxc)."""
    if shutil.which(tool) is None:
        pytest.fail(f"install {tool} (apt) to run this test")


@pytest.fixture
def w(tmp_path) -> World:
    """The story's world: the client owns 'acme' (GitHub, Bank), Aiko is a member."""
    return build(tmp_path)


SHEET_BAD_SEED = (
    "サービス名,ログインID,パスワード,URL,2FA\r\n"
    "髙島屋オンライン,00123,pw-takashimaya-1,https://www.takashimaya.co.jp/,\r\n"
    "壊れた2FA,x,CANARY-row-pw,https://example.jp/,not-a-seed-!!\r\n"
)


def cp932_sheet(tmp_path: Path, text: str = SHEET_JA) -> Path:
    path = tmp_path / "logins.csv"
    path.write_bytes(text.encode("cp932"))
    return path


def titles(w: World) -> set[str]:
    return set(w.client_session().titles().values())


def item(w: World, title: str) -> Payload:
    sess = w.client_session()
    return sess.payload(sess.find(title))


def audit_actions(w: World) -> list[str]:
    rows = json.loads(ok(w.c("audit", "--json")).out)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    return [row["action"] for row in rows]


# --- import ----------------------------------------------------------------------------


def test_a_japanese_excel_sheet_imports_with_its_text_intact(w, tmp_path):
    sheet = cp932_sheet(tmp_path)
    done = ok(w.c("import", str(sheet)))
    assert "Imported from a spreadsheet: 3 added, 0 updated" in done.out
    assert "delete it now" in done.err  # the plaintext source
    takashimaya = item(w, "髙島屋オンライン")
    assert takashimaya["username"] == "00123"  # a login id keeps its leading zeros
    assert takashimaya["password"] == "pw-takashimaya-1"
    assert takashimaya["notes"] == "①会員番号あり"
    assert item(w, "freee会計")["notes"] == "二行の\nメモ"
    assert "合計" not in titles(w)
    assert {"GitHub", "Bank", "髙島屋オンライン", "freee会計", "壊れた2FA"} == titles(w)


def test_a_dry_run_needs_no_vault_and_prints_no_secret(w, tmp_path):
    sheet = cp932_sheet(tmp_path)
    before = w.owner_log.read_bytes()
    done = w.c("import", str(sheet), "--dry-run", passphrase=None, env={"TAKUSU_HOME": "/nope"})
    assert done.code == 0, done
    assert "row 2: add '髙島屋オンライン'" in done.out
    assert "row 3: add 'freee会計'" in done.out
    assert "skip" in done.out and "row 5" in done.out  # the total row, by its number
    for secret in ("pw-takashimaya-1", "pw-freee-2", "CANARY-row-pw"):
        assert secret not in done.out + done.err
    assert w.owner_log.read_bytes() == before  # nothing written


def test_reimporting_the_same_file_adds_nothing(w, tmp_path):
    sheet = cp932_sheet(tmp_path)
    ok(w.c("import", str(sheet)))
    log = w.owner_log.read_bytes()
    again = ok(w.c("import", str(sheet)))
    assert "0 added, 0 updated, 5 skipped" in again.out  # with the blank and total rows
    assert "already in the vault" in again.out
    assert w.owner_log.read_bytes() == log  # nothing written, not even an empty import


def test_on_duplicate_update_and_add(w, tmp_path):
    sheet = cp932_sheet(tmp_path)
    ok(w.c("import", str(sheet)))
    sheet.write_bytes(SHEET_JA.replace("pw-freee-2", "pw-freee-NEW").encode("cp932"))
    updated = ok(w.c("import", str(sheet), "--on-duplicate", "update"))
    assert "0 added, 1 updated, 4 skipped" in updated.out  # two unchanged, blank, total
    assert "row 2: skip '髙島屋オンライン' (unchanged)" in updated.out
    assert item(w, "freee会計")["password"] == "pw-freee-NEW"
    added = ok(w.c("import", str(sheet), "--on-duplicate", "add", "--tag", "second"))
    assert "3 added" in added.out
    assert {"髙島屋オンライン (2)", "freee会計 (2)"} <= titles(w)
    assert item(w, "freee会計 (2)")["tags"] == ["second"]
    assert item(w, "freee会計")["password"] == "pw-freee-NEW"  # the first one kept


def test_a_bad_seed_refuses_the_row_and_writes_nothing_of_it(w, tmp_path):
    sheet = cp932_sheet(tmp_path, SHEET_BAD_SEED)
    refused = w.c("import", str(sheet))
    assert "row 3: refuse" in refused.out
    assert "1 refused" in refused.out
    assert "壊れた2FA" not in titles(w)  # the row is not half-imported
    assert "CANARY-row-pw" not in refused.out + refused.err
    for line in w.owner_log.read_bytes().splitlines():  # nor in the log, even sealed
        assert b"CANARY" not in line
    ok(w.c("import", str(sheet), "--skip-bad-totp"))
    kept = item(w, "壊れた2FA")
    assert kept["password"] == "CANARY-row-pw" and kept["totp"] is None


def test_the_import_is_in_the_audit(w, tmp_path):
    ok(w.c("import", str(cp932_sheet(tmp_path))))
    assert "imported 3 items from a spreadsheet" in audit_actions(w)


def test_only_the_owner_imports_and_nothing_is_asked_first(w, tmp_path):
    sheet = cp932_sheet(tmp_path)
    done = w.s("import", str(sheet))
    assert done.code != 0 and "owner" in done.err
    assert "Traceback" not in done.err
    assert "髙島屋オンライン" not in titles(w)


def test_an_encrypted_bitwarden_export_is_refused_with_a_hint(w):
    done = w.c("import", str(FILES / "bitwarden-encrypted.json"), passphrase=None)
    assert done.code == BadImport.exit_code, done  # refused before any passphrase is asked
    error, hint = done.err.strip().splitlines()
    assert error == "takusu: error: this Bitwarden export is encrypted"
    assert "'.json (Encrypted)'" in hint
    assert "Traceback" not in done.err


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("spreadsheet-en.csv", "a spreadsheet"),
        ("chrome.csv", "a Chrome or Edge export"),
        ("firefox.csv", "a Firefox export"),
        ("safari.csv", "a Safari export"),
        ("bitwarden.json", "a Bitwarden export"),
        ("bitwarden.csv", "a Bitwarden export"),
        ("1password.csv", "a 1Password export"),
        ("keepassxc.csv", "a KeePassXC export"),
    ],
)
def test_every_format_goes_into_the_vault_as_its_reader_read_it(w, name, fmt):
    from vault.transfer import read_source
    from vault.transfer.record import ReadOptions

    source = FILES / name
    records = read_source(source, None, ReadOptions({}, False, lambda: "")).records
    assert records, name
    done = ok(w.c("import", str(source)))
    added = int(re.search(rf"Imported from {fmt}: (\d+) added", done.out).group(1))
    assert added >= 1
    assert f"imported {added} items from {fmt}" in audit_actions(w)
    sess = w.client_session()
    for record in records:
        want = record.payload()
        got = sess.payload(sess.find(want["title"]))
        for key in ("username", "password", "url", "notes", "totp", "fields", "tags"):
            assert got[key] == want[key], (name, record.place, key)


def test_a_1password_archive_imports_and_names_what_it_left(w, tmp_path):
    archive = make_1pux(tmp_path / "export.1pux")
    done = ok(w.c("import", str(archive)))
    assert "Imported from a 1Password export:" in done.out
    assert "1 attached file in the export was not imported" in done.err
    assert "delete it now" in done.err


def test_a_keepassxc_database_imports_without_a_plaintext_file(w, tmp_path):
    need("keepassxc-cli")
    kp = KeePassXC(tmp_path / "kp-home")
    db = tmp_path / "old.kdbx"
    kp.create(db, KDBX_PASSWORD)
    kp.run("mkdir", str(db), "銀行", stdin=f"{KDBX_PASSWORD}\n")
    kp.run(
        "add", "-u", "yamada", "--url", "https://bank.example.jp/", "-p", str(db), "銀行/みずほ",
        stdin=f"{KDBX_PASSWORD}\npw-mizuho-3\npw-mizuho-3\n",
    )  # fmt: skip
    done = ok(w.c("import", str(db), "--password-stdin", input=f"{KDBX_PASSWORD}\n"))
    assert "1 added" in done.out
    assert "delete it now" not in done.err  # the database is encrypted
    mizuho = item(w, "みずほ")
    assert (mizuho["username"], mizuho["password"]) == ("yamada", "pw-mizuho-3")
    assert mizuho["tags"] == ["銀行"]
    assert "imported 1 items from a KeePass database" in audit_actions(w)
    wrong = w.c("import", str(db), "--password-stdin", input="wrong\n")
    assert wrong.code == BadImport.exit_code and "Traceback" not in wrong.err
    assert wrong.err.splitlines()[0].endswith(
        "old.kdbx: wrong password, or the database also "
        "needs a key file (takusu does not support key "
        "files yet)"
    )


# --- export ----------------------------------------------------------------------------


def add_rich_item(w: World) -> None:
    payload = empty_payload()
    payload.update(
        title="freee会計",
        username="keiri@example.jp",
        password="pw-freee-2",
        url="https://secure.freee.co.jp/",
        notes="経理担当\n二行目",
        fields={"事業所ID": "000123"},
        tags=["会計", "月次"],
    )
    w.client_session().add(payload)


def export_kdbx(w: World, path: Path) -> None:
    done = ok(w.c("export", str(path), "--password-stdin", input=f"{KDBX_PASSWORD}\n"))
    assert done.out.startswith("Exported 3 items to ")


def test_keepassxc_opens_the_export_with_every_field(w, tmp_path):
    need("keepassxc-cli")
    add_rich_item(w)
    db = tmp_path / "acme.kdbx"
    export_kdbx(w, db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    kp = KeePassXC(tmp_path / "kp-home")
    listed = kp.run("ls", "-R", "-f", str(db), stdin=f"{KDBX_PASSWORD}\n")
    assert {"GitHub", "Bank", "freee会計"} <= {line.split("/")[-1] for line in listed.split()}
    sess = w.client_session()
    for item_id in sess.readable():
        want = sess.payload(item_id)
        entry = next(line for line in listed.split() if line.split("/")[-1] == want["title"])
        for attribute, key in (("UserName", "username"), ("Password", "password")):
            assert kp.attribute(db, KDBX_PASSWORD, entry, attribute) == (want[key] or "")
        assert kp.attribute(db, KDBX_PASSWORD, entry, "URL") == (want["url"] or "")
        assert kp.attribute(db, KDBX_PASSWORD, entry, "Notes") == (want["notes"] or "")
        for name, value in want["fields"].items():
            assert kp.attribute(db, KDBX_PASSWORD, entry, name) == value
    github = next(line for line in listed.split() if line.endswith("GitHub"))
    shown = kp.totp(db, KDBX_PASSWORD, github)
    now = time.time()
    assert shown in {totp.current(GITHUB.totp, now + step).code for step in (-30, 0, 30)}
    assert "exported 3 items to an encrypted KeePass file" in audit_actions(w)


def test_the_export_imports_back_into_a_fresh_vault_unchanged(w, tmp_path):
    add_rich_item(w)
    db = tmp_path / "acme.kdbx"
    export_kdbx(w, db)
    fresh = build(tmp_path / "fresh", items=(), share=False)
    ok(fresh.c("import", str(db), "--password-stdin", input=f"{KDBX_PASSWORD}\n"))
    old, new = w.client_session(), fresh.client_session()
    mine = {p["title"]: p for p in (old.payload(i) for i in old.readable())}
    theirs = {p["title"]: p for p in (new.payload(i) for i in new.readable())}
    assert mine.keys() == theirs.keys()
    for title, want in mine.items():
        got = theirs[title]
        for key in ("username", "password", "url", "notes", "fields", "tags"):
            assert got[key] == want[key], (title, key)
        if want["totp"] is None:
            assert got["totp"] is None, title
        else:
            assert normalize(got["totp"]) == normalize(want["totp"]), title
    assert mine["GitHub"]["totp"] is not None  # the seed made the round trip


def test_a_plain_csv_export_says_so_and_is_private(w, tmp_path):
    path = tmp_path / "acme.csv"
    refused = w.c("export", str(path))
    assert refused.code == 2 and "--plain" in refused.err and not path.exists()
    asked = w.c("export", str(path), "--plain")  # no terminal to ask on
    assert asked.code == 2 and "--yes" in asked.err and not path.exists()
    done = ok(w.c("export", str(path), "--plain", "--yes"))
    assert done.out.startswith("Exported 2 items to ")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8-sig")
    assert GITHUB.password in text
    assert "exported 2 items to a plain-text CSV file" in audit_actions(w)


def test_an_export_never_overwrites_and_only_the_owner_exports(w, tmp_path):
    path = tmp_path / "acme.kdbx"
    path.write_bytes(b"keep me")
    done = w.c("export", str(path), "--password-stdin", input="x\n", passphrase=None)
    assert done.code == 2 and "exists" in done.err  # refused before any passphrase
    assert path.read_bytes() == b"keep me"
    other = tmp_path / "hers.kdbx"
    member = w.s("export", str(other), "--password-stdin", input="x\n")
    assert member.code != 0 and "owner" in member.err and not other.exists()
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))


# --- the log's import and export records -----------------------------------------------

M = "malformed"


@pytest.mark.parametrize(
    ("type_", "body", "why"),
    [
        ("import", {"format": "csv", "added": -1, "updated": 0, "skipped": 0, "refused": 0}, M),
        ("import", {"format": "", "added": 1, "updated": 0, "skipped": 0, "refused": 0}, M),
        ("import", {"format": "csv", "added": True, "updated": 0, "skipped": 0, "refused": 0}, M),
        ("import", {"format": "csv", "added": 1}, "missing updated, skipped, refused"),
        ("export", {"format": "pdf", "items": 1}, M),
        ("export", {"format": "kdbx", "items": "3"}, M),
    ],
)
def test_a_malformed_import_or_export_record_is_refused_at_its_place(w, type_, body, why):
    from tests.logs import append_raw, next_event

    line = next_event(w.identity(w.client), w.owner_log, w.vault_id, type_, body)
    append_raw(w.owner_log, line)
    seq = len(w.owner_log.read_bytes().splitlines()) - 1
    done = ok(w.c("list"))  # reported with its place, not used, and the vault still opens
    why = f"malformed {type_}" if why is M else why
    assert f"owner event '{type_}' is invalid: {why} in " in done.err
    assert f"seq {seq})" in done.err
    assert "GitHub" in done.out


def test_without_pykeepass_a_keepass_file_gets_an_install_hint_before_any_password(
    w, tmp_path, monkeypatch
):
    add_rich_item(w)
    db = tmp_path / "acme.kdbx"
    made = w.c("export", str(db), "--password-stdin", input=f"{KDBX_PASSWORD}\n")
    assert made.code == 0
    monkeypatch.setitem(sys.modules, "pykeepass", None)  # as if the extra were not installed
    for args in (["export", str(tmp_path / "b.kdbx")], ["import", str(db)]):
        done = w.c(*args, "--password-stdin", input="", passphrase=None)
        assert done.code == 1, done  # asked for no password: stdin is empty
        assert done.err.splitlines() == [
            "takusu: error: reading or writing KeePass files needs the optional pykeepass library",
            "takusu: hint: install it with: pip install 'takusu[kdbx]' (in takusu's own "
            "environment)",
        ]
    assert not (tmp_path / "b.kdbx").exists()
