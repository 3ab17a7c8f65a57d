"""Formats `1pux` and `1password-csv`: 1Password's exports.

1PUX (1Password Unencrypted Export) is a zip with `export.attributes`, `export.data`
and attachments under `files/`. `export.data` is JSON: accounts -> vaults -> items,
each item with `overview` (title, url, urls, tags), `details` (`loginFields[]` whose
`designation` is username or password, `notesPlain`, `password` for a Password item,
`sections[].fields[]` whose `value` is one typed member such as `{"string": …}`,
`{"concealed": …}`, `{"totp": …}`), `favIndex`, and `state` (active, archived) or
`trashed`. Archived and trashed items are skipped; attachments are reported, not
imported. The vault's name becomes a tag when the export holds more than one vault.
The zip is opened defensively: `export.data` is refused when its stated size or its
compression ratio is absurd, and is read with a hard cap either way.

1Password CSV: 1Password 8 writes `Title,Url,Username,Password,OTPAuth,Favorite,
Archived,Tags,Notes` (tags comma-separated); older versions named columns differently
(`Website`, `One-time password`, `notesPlain` …), so columns are found by header.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from .. import i18n
from ..errors import BadImport, BadInput, UsageError
from ..i18n import N_, _, ngettext
from .collect import Collector, Entry, Table, read_table, row_entry, row_place
from .common import (
    Columns,
    as_dict,
    dict_of,
    label,
    list_of,
    load_json,
    no_mapping,
    read_bytes,
    text_of,
    truthy,
)
from .record import ReadOptions, ReadResult

MAX_DATA = 64 << 20  # export.data, uncompressed
MAX_RATIO = 200  # uncompressed / compressed, for an entry over 1 MiB (JSON is ~10)
MAX_ENTRIES = 100_000
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted entry
    EOFError,
    OSError,
    zlib.error,
    struct.error,
    ValueError,
)

# loginFields that hold typed text (not checkboxes, buttons, radio or select controls)
TEXT_LOGIN_FIELDS = {"T", "E", "P", "N", "A", "U", "TEL"}
TEXT_VALUES = {"string", "concealed", "url", "phone", "creditCardType", "creditCardNumber"}
TEXT_VALUES |= {"reference", "menu", "gender"}


def _export_data(path: Path) -> tuple[bytes, int]:
    """export.data's bytes and the number of attachment files in the archive."""
    data = read_bytes(path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise BadImport(
                    _("the 1PUX archive holds more than {max} files").format(max=MAX_ENTRIES)
                )
            info = next((i for i in infos if i.filename == "export.data"), None)
            if info is None:
                raise BadImport(
                    _("not a 1PUX export: it has no export.data"),
                    hint=_("in 1Password 8, choose File > Export and the 1PUX format"),
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_DATA or (info.file_size > 1 << 20 and ratio > MAX_RATIO):
                raise BadImport(
                    _(
                        "the export.data in the 1PUX archive is far too large or too "
                        "compressed (a zip bomb?); takusu does not unpack it"
                    )
                )
            with archive.open(info) as member:
                body = member.read(MAX_DATA + 1)
            if len(body) > MAX_DATA:
                raise BadImport(_("the export.data in the 1PUX archive is larger than it says"))
            files = sum(1 for i in infos if i.filename.startswith("files/") and not i.is_dir())
    except _ZIP_ERRORS:
        raise BadImport(
            _("the 1PUX file is not a readable zip archive (damaged, cut short or encrypted)")
        ) from None
    return body, files


def _value(kind: str, value: object) -> str:
    """A typed section value as text."""
    if kind in TEXT_VALUES or kind == "totp":
        if not isinstance(value, str):
            raise BadInput(_("a field of type {kind} is not text").format(kind=kind))
        return value
    if kind == "email":
        if isinstance(value, dict):
            return text_of(value, "email_address")
        if not isinstance(value, str):
            raise BadInput(_("an email field is not text"))
        return value
    if kind == "date" and type(value) is int:
        try:
            return datetime.fromtimestamp(value, tz=UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            raise BadInput(_("a date field is out of range")) from None
    if kind == "monthYear" and type(value) is int and 0 <= value <= 999999:
        return f"{value // 100:04d}-{value % 100:02d}"
    if kind == "address" and isinstance(value, dict):
        parts = ("street", "city", "state", "zip", "country")
        return ", ".join(p for p in (text_of(value, k).strip() for k in parts) if p)
    if kind == "sshKey" and isinstance(value, dict):
        return text_of(value, "privateKey")
    if kind:
        raise BadInput(
            _("a field of type {kind} is not in the shape 1Password writes").format(kind=kind)
        )
    raise BadInput(_("a field without a type is not in the shape 1Password writes"))


NOT_IMPORTED = {
    "file": N_("an attachment was not imported"),
    "passkey": N_("a passkey was not imported"),
}


def _sections(details: dict[str, object], entry: Entry) -> None:
    for raw_section in list_of(details, "sections"):
        section = as_dict(raw_section, N_("a section is not in the shape 1Password writes"))
        for raw_field in list_of(section, "fields"):
            f = as_dict(raw_field, N_("a field is not in the shape 1Password writes"))
            name = text_of(f, "title") or text_of(f, "id") or "field"
            value = dict_of(f, "value")
            if not value:
                continue  # an empty field
            if len(value) > 1:
                raise BadInput(_("the value of a field is not in the shape 1Password writes"))
            kind, raw = next(iter(value.items()))
            if kind in NOT_IMPORTED:
                entry.notices.append(i18n._(NOT_IMPORTED[kind]))
                continue
            if raw is None:
                continue
            text = _value(kind, raw)
            if kind == "totp" and text.strip() and not entry.totp:
                entry.totp = text
            else:
                entry.fields.append((name, text))


def _login_fields(details: dict[str, object], entry: Entry) -> None:
    for raw in list_of(details, "loginFields"):
        f = as_dict(raw, N_("a login field is not in the shape 1Password writes"))
        value = text_of(f, "value")
        designation = text_of(f, "designation")
        if designation == "username" and not entry.username:
            entry.username = value
        elif designation == "password" and not entry.password:
            entry.password = value
        elif text_of(f, "fieldType") in TEXT_LOGIN_FIELDS and value.strip():
            entry.fields.append((text_of(f, "name") or text_of(f, "id") or "field", value))


def _urls(overview: dict[str, object], entry: Entry) -> None:
    urls = [text_of(overview, "url").strip()]
    bad_url = N_("a web address is not in the shape 1Password writes")
    urls += [text_of(as_dict(u, bad_url), "url").strip() for u in list_of(overview, "urls")]
    unique = list(dict.fromkeys(u for u in urls if u))
    if unique:
        entry.url = unique[0]
        entry.fields += [(f"URL {i}", u) for i, u in enumerate(unique[1:], start=2)]


def _item(
    place: str, item: dict[str, object], vault_tag: list[str], out: Collector
) -> Entry | None:
    state = item.get("state")
    if item.get("trashed") is True or state == "trashed":
        out.skip(place, _("in the trash"))
        return None
    if state == "archived":
        out.skip(place, _("archived"))
        return None
    overview, details = dict_of(item, "overview"), dict_of(item, "details")
    tags = [t for t in list_of(overview, "tags") if isinstance(t, str)]
    fav = item.get("favIndex")
    entry = Entry(
        place=place,
        title=text_of(overview, "title"),
        notes=text_of(details, "notesPlain"),
        tags=vault_tag + tags,
        favorite=type(fav) is int and fav > 0,
    )
    _urls(overview, entry)
    _login_fields(details, entry)
    if not entry.password and isinstance(details.get("password"), str):
        entry.password = text_of(details, "password")
    _sections(details, entry)
    if details.get("documentAttributes") or item.get("file"):
        entry.notices.append(_("an attached document was not imported"))
    return entry


def _vaults(doc: object) -> list[tuple[str, list[object]]]:
    """(vault name, items) for every vault of every account; BadImport on a bad shape."""
    if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
        raise BadImport(_("not a 1PUX export: export.data has no accounts"))
    vaults = []
    try:
        for account in list_of(doc, "accounts"):
            bad_account = N_("an account is not in the shape 1Password writes")
            for raw in list_of(as_dict(account, bad_account), "vaults"):
                vault = as_dict(raw, N_("a vault is not in the shape 1Password writes"))
                name = text_of(dict_of(vault, "attrs"), "name")
                vaults.append((name, list_of(vault, "items")))
    except BadInput:
        raise BadImport(
            _("not a 1PUX export: export.data is not in the shape 1Password writes")
        ) from None
    return vaults


def read_1pux(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    no_mapping(options, fmt)
    body, files = _export_data(path)
    vaults = _vaults(load_json(body, "1PUX"))
    out = Collector(fmt, options)
    if files:
        out.notice(
            ngettext(
                "{n} attached file in the export was not imported",
                "{n} attached files in the export were not imported",
                files,
            ).format(n=files)
        )
    for vault_name, items in vaults:
        vault_tag = [vault_name] if len(vaults) > 1 and vault_name.strip() else []
        named = _("item {n} in {vault}")
        unnamed = _("item {n} in a vault without a name")
        for n, raw in enumerate(items, start=1):
            if vault_name.strip():
                place = named.format(n=n, vault=label(vault_name))
            else:
                place = unnamed.format(n=n)

            def make(
                raw: object = raw, place: str = place, tag: list[str] = vault_tag
            ) -> Entry | None:
                item = as_dict(raw, N_("the item is not in the shape 1Password writes"))
                return _item(place, item, tag, out)

            out.attempt(place, make)
    return out.result


CSV_ALIASES = {
    "title": "title",
    "url": "url",
    "website": "url",
    "urllocation": "url",
    "username": "username",
    "password": "password",
    "otpauth": "totp",
    "onetimepassword": "totp",
    "otp": "totp",
    "favorite": "favorite",
    "archived": "archived",
    "tags": "tags",
    "notes": "notes",
    "notesplain": "notes",
}
CSV_TABLE = Table(
    "1Password CSV",
    "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes",
    CSV_ALIASES,
    ("title", "username", "password"),
    foreign=frozenset({"group", "loginuri", "httprealm"}),
)


def _csv_row(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry | None:
    if truthy(columns.get(cells, "archived")):
        out.skip(row_place(number), _("archived"))
        return None
    return row_entry(number, cells, columns)


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """A 1Password 1PUX archive or CSV export as records."""
    if fmt == "1pux":
        return read_1pux(path, fmt, options)
    if fmt == "1password-csv":
        return read_table(path, fmt, options, CSV_TABLE, _csv_row)
    raise UsageError(_("the 1Password reader does not read {format}").format(format=repr(fmt)))
