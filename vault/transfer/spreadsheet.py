"""Format `csv`: a spreadsheet saved as CSV, the way a small office keeps its logins.

UTF-8 (with or without BOM), UTF-16 with BOM (Excel's 'Unicode text', tab-separated) or
CP932 (Japanese Excel's 'CSV'); CRLF and quoted multi-line cells. Columns are found by
their header, in Japanese or English (サービス名, ID, パスワード, URL, 備考 …), or named
with `--map COLUMN=FIELD`; every other column becomes a custom field. The header may sit
below a title row or two. Blank rows and total rows (合計, 小計, Total) are skipped.
Cells are text: an ID `00123` stays `00123`, and `=cmd|...` is stored as typed.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ..errors import BadImport
from ..i18n import _
from .collect import Collector, Entry, each_row, row_entry, row_place
from .common import (
    Columns,
    csv_rows,
    decode_text,
    header_key,
    is_blank,
    map_columns,
    read_bytes,
    sniff_delimiter,
)
from .record import ReadOptions, ReadResult


def _aliases() -> dict[str, str]:
    names = {
        "title": "サービス名 サイト名 タイトル 名前 名称 サービス サイト 件名 項目 項目名 "
        "アプリ名 アプリ 銀行名 title name service servicename site sitename",
        "username": "ID ユーザー名 ユーザ名 ユーザーID ユーザID ログインID ログイン名 "
        "ログインユーザー名 メールアドレス メール アカウント アカウント名 アカウントID "
        "会員ID 利用者ID username user userid login loginid loginname email mail "
        "emailaddress account",
        "password": "パスワード ログインパスワード パス PW password pass passwd passcode",
        "url": "URL ログインURL サイトURL ログインページ ホームページ リンク url loginurl "
        "siteurl website web uri link",
        "notes": "備考 メモ ノート 注記 コメント 補足 説明 notes note memo comment comments "
        "remarks extra description",
        "totp": "2FA 二段階認証 2段階認証 二要素認証 2要素認証 ワンタイムパスワード TOTP OTP "
        "otpauth totpsecret 2fasecret 2faキー 認証キー シード seed",
        "tags": "タグ フォルダ フォルダー グループ 分類 カテゴリ カテゴリー tags tag folder "
        "group category label labels",
        "favorite": "お気に入り favorite favourite fav starred",
    }
    return {header_key(word): fld for fld, words in names.items() for word in words.split()}


ALIASES = _aliases()
CORE = ("title", "username", "password", "url", "totp")
TOTAL_WORDS = {"合計", "小計", "総計", "計", "total", "subtotal", "grandtotal", "sum", "totals"}
# What people write in a 2FA column instead of a seed: kept as a custom field.
NOT_A_SEED = {
    "あり",
    "有り",
    "有",
    "なし",
    "無し",
    "無",
    "未設定",
    "設定済み",
    "済",
    "○",
    "◯",
    "〇",
}
NOT_A_SEED |= {"×", "✕", "-", "ー", "—", "yes", "no", "none", "n/a", "on", "off", "true"}
NOT_A_SEED |= {"false", "0", "1", "sms", "メール", "email", "電話", "アプリ", "app"}
HEADER_SEARCH = 10  # rows looked at for the header (a title row may come first)


def _is_total(cells: list[str]) -> bool:
    first = next((c for c in cells if c.strip()), "")
    key = unicodedata.normalize("NFKC", first).strip().rstrip(":").replace(" ", "").casefold()
    return key in TOTAL_WORDS


def _score(cells: list[str], mapping: dict[str, str]) -> int:
    """How many core fields a row would name if it were the header."""
    keys = {header_key(c) for c in cells}
    if mapping and not all(header_key(col) in keys for col in mapping):
        return 0
    try:
        columns = map_columns(cells, ALIASES, mapping)
    except BadImport:  # not a header this reader can use (too wide, control characters)
        return 0
    return sum(1 for name in CORE if name in columns.known)


def _find_header(rows: list[tuple[int, list[str]]], mapping: dict[str, str]) -> tuple[int, Columns]:
    """The index (in `rows`) of the header row and its columns."""
    candidates = [(i, cells) for i, (_number, cells) in enumerate(rows[:HEADER_SEARCH])]
    candidates = [(i, cells) for i, cells in candidates if not is_blank(cells)]
    for need in (2, 1):
        for i, cells in candidates:
            if _score(cells, mapping) >= need:
                return i, map_columns(cells, ALIASES, mapping)
    if mapping and candidates:
        map_columns(candidates[0][1], ALIASES, mapping)  # raises the --map UsageError
    raise BadImport(
        _("no column could be recognised as a title, ID, password or URL"),
        hint=_(
            "name the columns with --map COLUMN=FIELD (title, username, password, url, "
            "notes, totp, tags)"
        ),
    )


def _is_note_about_2fa(value: str) -> bool:
    """A 2FA cell that says whether or how, not a seed: あり, なし, SMS, ○, - …"""
    key = unicodedata.normalize("NFKC", value).strip().casefold()
    return key in NOT_A_SEED


def _entry(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry | None:
    if _is_total(cells):
        out.skip(row_place(number), _("a total row"))
        return None
    entry = row_entry(number, cells, columns)
    if _is_note_about_2fa(entry.totp):  # kept as written, under its column's name
        entry.fields.append((columns.names[columns.known["totp"]] or "2FA", entry.totp))
        entry.totp = ""
    return entry


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """Every data row of a spreadsheet CSV as a record, refused row, or skip."""
    text = decode_text(read_bytes(path))
    rows = list(csv_rows(text, sniff_delimiter(text)))
    if not rows:
        raise BadImport(_("the file is empty"))
    header_at, columns = _find_header(rows, options.mapping)
    out = Collector(fmt, options)
    for number, _cells in rows[:header_at]:
        out.skip(row_place(number), _("above the header row"))
    each_row(out, rows[header_at + 1 :], columns, _entry)
    return out.result
