"""Formats `chrome` (Chrome and Edge), `firefox` and `safari`: a browser's password CSV.

- Chrome / Edge: `name,url,username,password` and, since 2023, `note`. A login saved
  for an Android app has an `android://HASH@PACKAGE/` URL; its title comes from the
  package name. Chrome writes one row per affiliated site, so exact duplicates are
  normal: they are merged into one record, the rest reported as skipped.
- Firefox: `url,username,password,httpRealm,formActionOrigin,guid,timeCreated,
  timeLastUsed,timePasswordChanged`, every value quoted. There is no title: it is the
  URL's host. The `chrome://FirefoxAccounts` row (the Firefox account's sync key, not
  a website login) is skipped.
- Safari (and the macOS Passwords app): `Title,URL,Username,Password,Notes,OTPAuth`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..i18n import _
from .collect import Collector, Entry, Table, read_table, row_entry, row_place
from .common import Columns, host_of
from .record import ReadOptions, ReadResult, Record, Refusal

CHROME = Table(
    "Chrome/Edge",
    "name,url,username,password,note",
    {"name": "title", "url": "url", "username": "username", "password": "password"}
    | {"note": "notes"},
    ("title", "url", "username", "password"),
)
FIREFOX = Table(
    "Firefox",
    '"url","username","password","httpRealm","formActionOrigin","guid",…',
    {"url": "url", "username": "username", "password": "password", "httprealm": "realm"},
    ("url", "username", "password", "realm"),
    frozenset({"formactionorigin", "guid", "timecreated", "timelastused"})
    | {"timepasswordchanged"},
)
SAFARI = Table(
    "Safari",
    "Title,URL,Username,Password,Notes,OTPAuth",
    {"title": "title", "url": "url", "username": "username", "password": "password"}
    | {"notes": "notes", "otpauth": "totp"},
    ("title", "url", "username", "password", "notes", "totp"),
    foreign=frozenset({"group", "favorite", "archived", "tags"}),
)
FIREFOX_ACCOUNTS = "chrome://firefoxaccounts"

# Leading and trailing parts of an Android package name that say nothing about the app.
_PACKAGE_NOISE = {"com", "jp", "co", "ne", "or", "net", "org", "io", "www", "android", "app"}
_PACKAGE_NOISE |= {"apps", "mobile", "client"}


def android_title(package: str) -> str:
    """A readable title for an Android package: 'com.twitter.android' -> 'twitter
    (Android)', 'jp.co.smbc.direct' -> 'smbc.direct (Android)'."""
    parts = [p for p in package.split(".") if p]
    while len(parts) > 1 and parts[0].lower() in _PACKAGE_NOISE:
        parts.pop(0)
    while len(parts) > 1 and parts[-1].lower() in _PACKAGE_NOISE:
        parts.pop()
    return f"{'.'.join(parts) or package} (Android)"


def _chrome(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry:
    entry = row_entry(number, cells, columns)
    if entry.url.strip().lower().startswith("android://"):
        package = host_of(entry.url) or ""
        name = entry.title.strip()
        if package and (not name or name == package or name.lower().startswith("android://")):
            entry.title = android_title(package)
        if package:
            entry.fields.append(("Android app", package))
    return entry


def _firefox(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry | None:
    if columns.get(cells, "url").strip().lower() == FIREFOX_ACCOUNTS:
        out.skip(row_place(number), _("the Firefox account's own sync key, not a website login"))
        return None
    entry = row_entry(number, cells, columns)  # no title: build() takes the URL's host
    entry.fields.insert(0, ("HTTP realm", columns.get(cells, "realm")))
    return entry


def _safari(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry:
    return row_entry(number, cells, columns)


READERS = {"chrome": (CHROME, _chrome), "firefox": (FIREFOX, _firefox), "safari": (SAFARI, _safari)}


def _key(record: Record) -> tuple[object, ...]:
    return (
        record.title,
        record.username,
        record.password,
        record.url,
        record.notes,
        record.totp,
        tuple(record.fields.items()),
        tuple(record.tags),
    )


def collapse_duplicates(result: ReadResult) -> None:
    """Keep the first of records identical in every field; report the others as skipped
    and note on the kept one which rows were merged into it."""
    first: dict[tuple[object, ...], Record] = {}
    kept: list[Record] = []
    for record in result.records:
        original = first.setdefault(_key(record), record)
        if original is record:
            kept.append(record)
            continue
        result.skipped.append(
            Refusal(record.place, _("the same login as {place}").format(place=original.place))
        )
        original.notices.append(
            _("{place} was identical and was merged into this one").format(place=record.place)
        )
    result.records = kept


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """A Chrome/Edge, Firefox or Safari password export as records."""
    if fmt not in READERS:
        raise UsageError(_("the browsers reader does not read {format}").format(format=repr(fmt)))
    table, make = READERS[fmt]
    result = read_table(path, fmt, options, table, make)
    collapse_duplicates(result)
    return result
