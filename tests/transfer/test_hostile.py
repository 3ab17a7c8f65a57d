"""The same hostile entry through every format: a control or bidi character in the
title, a bad TOTP, a huge value, a formula-looking title, nothing to name it by. Each
is refused alone with its place (or kept, for the formula), and the canary secrets in
it appear in no reason, notice, place or error."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.transfer.builders import assert_clean, make_1pux, message_texts, places, read

PASSWORD = "CANARY-hostile-pw"
NOTE = "CANARY-hostile-note"
SEED_OK = "JBSWY3DPEHPK3PXP"


@dataclass
class Row:
    title: str = "Good"
    username: str = "user"
    password: str = PASSWORD
    url: str = "https://good.example"
    notes: str = NOTE
    totp: str = ""


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def spreadsheet(rows: list[Row]) -> bytes:
    header = ["サービス名", "ID", "パスワード", "URL", "備考", "2FA"]
    return _csv(header, [[r.title, r.username, r.password, r.url, r.notes, r.totp] for r in rows])


def chrome(rows: list[Row]) -> bytes:
    header = ["name", "url", "username", "password", "note"]
    return _csv(header, [[r.title, r.url, r.username, r.password, r.notes] for r in rows])


def firefox(rows: list[Row]) -> bytes:
    header = ["url", "username", "password", "httpRealm", "formActionOrigin", "guid"]
    header += ["timeCreated", "timeLastUsed", "timePasswordChanged"]
    # no title column: the title comes from the URL, so the hostile title goes there
    body = [
        [f"https://{r.title}", r.username, r.password, "", "", "{g}", "1", "1", "1"] for r in rows
    ]
    return _csv(header, body)


def safari(rows: list[Row]) -> bytes:
    header = ["Title", "URL", "Username", "Password", "Notes", "OTPAuth"]
    return _csv(header, [[r.title, r.url, r.username, r.password, r.notes, r.totp] for r in rows])


def bitwarden_csv(rows: list[Row]) -> bytes:
    header = "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username"
    header += ",login_password,login_totp"
    body = [
        ["", "", "login", r.title, r.notes, "", "0", r.url, r.username, r.password, r.totp]
        for r in rows
    ]
    return _csv(header.split(","), body)


def onepassword_csv(rows: list[Row]) -> bytes:
    header = "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes".split(",")
    body = [
        [r.title, r.url, r.username, r.password, r.totp, "false", "false", "", r.notes]
        for r in rows
    ]
    return _csv(header, body)


def keepassxc_csv(rows: list[Row]) -> bytes:
    header = "Group,Title,Username,Password,URL,Notes,TOTP,Icon,Last Modified,Created".split(",")
    body = [
        ["Root/G", r.title, r.username, r.password, r.url, r.notes, r.totp, "0", "", ""]
        for r in rows
    ]
    return _csv(header, body)


def bitwarden_json(rows: list[Row]) -> bytes:
    items = [
        {
            "type": 1,
            "name": r.title,
            "notes": r.notes,
            "login": {
                "username": r.username,
                "password": r.password,
                "uris": [{"uri": r.url}],
                "totp": r.totp or None,
            },
        }
        for r in rows
    ]
    return json.dumps({"encrypted": False, "folders": [], "items": items}).encode()


def onepux(rows: list[Row]) -> dict[str, object]:
    items = []
    for r in rows:
        fields = [{"title": "otp", "value": {"totp": r.totp}}] if r.totp else []
        login = [
            {"value": r.username, "designation": "username", "fieldType": "T"},
            {"value": r.password, "designation": "password", "fieldType": "P"},
        ]
        items.append(
            {
                "state": "active",
                "overview": {"title": r.title, "url": r.url},
                "details": {
                    "loginFields": login,
                    "notesPlain": r.notes,
                    "sections": [{"fields": fields}],
                },
            }
        )
    return {"accounts": [{"vaults": [{"attrs": {"name": "V"}, "items": items}]}]}


Writer = Callable[[list[Row]], object]
FORMATS: dict[str, tuple[Writer, Callable[[int], str]]] = {
    "csv": (spreadsheet, lambda n: f"row {n + 1}"),
    "chrome": (chrome, lambda n: f"row {n + 1}"),
    "firefox": (firefox, lambda n: f"row {n + 1}"),
    "safari": (safari, lambda n: f"row {n + 1}"),
    "bitwarden-csv": (bitwarden_csv, lambda n: f"row {n + 1}"),
    "1password-csv": (onepassword_csv, lambda n: f"row {n + 1}"),
    "keepassxc-csv": (keepassxc_csv, lambda n: f"row {n + 1}"),
    "bitwarden-json": (bitwarden_json, lambda n: f"item {n}"),
    "1pux": (onepux, lambda n: f"item {n} in V"),
}
HAS_TOTP = {"csv", "safari", "bitwarden-csv", "1password-csv", "keepassxc-csv", "bitwarden-json"}
HAS_TOTP |= {"1pux"}


def write(tmp_path: Path, fmt: str, rows: list[Row]) -> Path:
    writer, _ = FORMATS[fmt]
    content = writer(rows)
    path = tmp_path / f"source-{fmt}"
    if fmt == "1pux":
        return make_1pux(path, content, attachments=0)  # type: ignore[arg-type]
    path.write_bytes(content)  # type: ignore[arg-type]
    return path


CASES = {
    "escape-sequence": (Row(title="bad\x1b[31mtitle"), "control or format character"),
    "bidi-override": (Row(title="invoice\u202efdp.exe"), "U+202E"),
    "bad-totp": (Row(totp="CANARY0TOTP!"), "2FA seed is not valid"),
    "huge-value": (Row(notes=NOTE + "x" * (70 << 10)), "longer than"),
    "title-too-long": (Row(title="t" * 201), "1 to 200"),
    "nothing-to-name-it": (Row(title="", username="", url=""), "no URL or username"),
}


# Firefox has no title (it is the URL's host) and no notes: the hostile text goes there
FIREFOX_CASES = {
    "escape-sequence": Row(title="bad\x07title"),
    "bidi-override": Row(title="invoice\u202efdp.exe"),
    "huge-value": Row(username=NOTE + "x" * (70 << 10)),
    "title-too-long": Row(title=".".join(["t" * 60] * 4)),
    "nothing-to-name-it": Row(title="", username=""),
}
HOSTILE = [
    (fmt, case)
    for fmt in sorted(FORMATS)
    for case in sorted(CASES)
    if not (case == "bad-totp" and fmt not in HAS_TOTP)
]


@pytest.mark.parametrize(("fmt", "case"), HOSTILE)
def test_hostile_entry_is_refused_alone_without_leaking(tmp_path, fmt, case):
    row, why = CASES[case]
    if fmt == "firefox":
        row = FIREFOX_CASES[case]
    good = Row(title="good.example", password="Fine-pw", notes="fine", totp=SEED_OK)
    result = read(write(tmp_path, fmt, [good, row]), fmt)
    _, place = FORMATS[fmt]
    assert [r.password for r in result.records] == ["Fine-pw"]
    reasons = places(result)
    assert list(reasons) == [place(2)]
    assert why in reasons[place(2)]
    assert_clean(message_texts(result), PASSWORD, NOTE, "CANARY0TOTP")


@pytest.mark.parametrize("fmt", sorted(HAS_TOTP))
def test_skip_bad_totp_keeps_the_entry_in_every_format(tmp_path, fmt):
    result = read(write(tmp_path, fmt, [Row(totp="CANARY0TOTP!")]), fmt, skip_bad_totp=True)
    [record] = result.records
    assert record.totp is None and record.password == PASSWORD
    assert any("2FA seed was not imported" in n for n in record.notices)
    assert_clean(message_texts(result), PASSWORD, NOTE, "CANARY0TOTP")


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"firefox"}))  # no title column
def test_a_formula_title_is_stored_as_plain_text(tmp_path, fmt):
    formula = "=cmd|' /C calc'!A0"
    [record] = read(write(tmp_path, fmt, [Row(title=formula)]), fmt).records
    assert record.payload()["title"] == formula


@pytest.mark.parametrize("fmt", sorted(HAS_TOTP))
def test_every_totp_form_is_one_validated_uri(tmp_path, fmt):
    rows = [
        Row(title="bare", totp="jbsw y3dp ehpk 3pxp"),
        Row(title="uri", totp=f"otpauth://totp/x:y?secret={SEED_OK}&issuer=x"),
    ]
    records = read(write(tmp_path, fmt, rows), fmt).records
    assert records[0].totp == f"otpauth://totp/bare?secret={SEED_OK}"
    assert records[1].totp == f"otpauth://totp/x:y?secret={SEED_OK}&issuer=x"
