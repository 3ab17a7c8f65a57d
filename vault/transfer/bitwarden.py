"""Formats `bitwarden-json` and `bitwarden-csv`: Bitwarden's unencrypted exports.

JSON: `{"encrypted": false, "folders": [{id, name}], "items": [...]}` (an organisation
export has `collections` and `collectionIds` instead). Item `type` 1 is a login
(`login.username/password/uris[].uri/totp`), 2 a secure note, 3 a card, 4 an identity,
5 an SSH key; cards, identities and keys keep their parts as custom fields. Custom
`fields[]` have `type` 0 text, 1 hidden, 2 boolean and 3 linked (a pointer to the
username or password, not a value: reported, not imported). Folders and collections
become tags. An encrypted export (`"encrypted": true`) is refused with a hint.

CSV: `folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,
login_password,login_totp` (`collections` instead of `folder` for an organisation);
`fields` holds `name: value` lines, `login_uri` several URIs joined by commas.

A `steam://` TOTP is Steam Guard, not RFC 6238: that row is refused (or kept without
it under --skip-bad-totp).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadImport, BadInput, UsageError
from ..i18n import N_, _
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
    split_tags,
    text_of,
)
from .record import ReadOptions, ReadResult

LOGIN, NOTE, CARD, IDENTITY, SSH_KEY = 1, 2, 3, 4, 5
LINKED = 3

CARD_PARTS = {
    "cardholderName": "Cardholder name",
    "brand": "Brand",
    "number": "Number",
    "expMonth": "Expiry month",
    "expYear": "Expiry year",
    "code": "Security code",
}
IDENTITY_PARTS = {
    "title": "Honorific",
    "firstName": "First name",
    "middleName": "Middle name",
    "lastName": "Last name",
    "company": "Company",
    "email": "Email",
    "phone": "Phone",
    "address1": "Address 1",
    "address2": "Address 2",
    "address3": "Address 3",
    "city": "City",
    "state": "State",
    "postalCode": "Postal code",
    "country": "Country",
    "ssn": "Social security number",
    "passportNumber": "Passport number",
    "licenseNumber": "License number",
}
SSH_PARTS = {"privateKey": "Private key", "publicKey": "Public key"}
SSH_PARTS |= {"keyFingerprint": "Fingerprint"}


def _uris(urls: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The first URI as the URL, the others as custom fields 'URL 2', 'URL 3' …"""
    urls = [u.strip() for u in urls if u.strip()]
    if not urls:
        return "", []
    return urls[0], [(f"URL {i}", u) for i, u in enumerate(urls[1:], start=2)]


def _parts(obj: dict[str, object], names: dict[str, str]) -> list[tuple[str, str]]:
    return [(title, text_of(obj, key)) for key, title in names.items()]


def _custom_fields(item: dict[str, object], entry: Entry) -> None:
    for raw in list_of(item, "fields"):
        f = as_dict(raw, N_("a custom field is not in the shape Bitwarden writes"))
        name = text_of(f, "name") or "field"
        if f.get("type") == LINKED:
            entry.notices.append(
                _("the linked field {name} was not imported").format(name=repr(label(name)))
            )
            continue
        value = f.get("value")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if value is not None and not isinstance(value, str):
            raise BadInput(_("the value of a custom field is not text"))
        entry.fields.append((name, value or ""))


def _tags(
    item: dict[str, object], folders: dict[str, str], collections: dict[str, str]
) -> list[str]:
    tags: list[str] = []
    folder = item.get("folderId")
    if isinstance(folder, str) and folder in folders:
        tags.append(folders[folder])
    for cid in list_of(item, "collectionIds"):
        if isinstance(cid, str) and cid in collections:
            tags.append(collections[cid])
    return tags


def _item(
    place: str,
    item: dict[str, object],
    folders: dict[str, str],
    collections: dict[str, str],
    out: Collector,
) -> Entry | None:
    kind = item.get("type")
    if type(kind) is not int or kind not in (LOGIN, NOTE, CARD, IDENTITY, SSH_KEY):
        raise BadInput(_("it is of an item type takusu does not know"))
    if item.get("deletedDate"):
        out.skip(place, _("in the trash"))
        return None
    entry = Entry(
        place=place,
        title=text_of(item, "name"),
        notes=text_of(item, "notes"),
        favorite=item.get("favorite") is True,
        tags=_tags(item, folders, collections),
    )
    if kind == LOGIN:
        login = dict_of(item, "login")
        entry.username = text_of(login, "username")
        entry.password = text_of(login, "password")
        entry.totp = text_of(login, "totp")
        bad_uri = N_("a web address is not in the shape Bitwarden writes")
        uris = [text_of(as_dict(u, bad_uri), "uri") for u in list_of(login, "uris")]
        entry.url, more = _uris(uris)
        entry.fields += more
        if list_of(login, "fido2Credentials"):
            entry.notices.append(_("a passkey was not imported"))
    elif kind == CARD:
        entry.fields += _parts(dict_of(item, "card"), CARD_PARTS)
    elif kind == IDENTITY:
        identity = dict_of(item, "identity")
        entry.username = text_of(identity, "username")
        entry.fields += _parts(identity, IDENTITY_PARTS)
    elif kind == SSH_KEY:
        entry.fields += _parts(dict_of(item, "sshKey"), SSH_PARTS)
    _custom_fields(item, entry)
    if list_of(item, "passwordHistory"):
        out.notice(_("password history is not imported"))
    if list_of(item, "attachments"):
        entry.notices.append(_("an attachment was not imported"))
    return entry


def _names(doc: dict[str, object], key: str) -> dict[str, str]:
    """id -> name of the folders (or collections) of an export."""
    names: dict[str, str] = {}
    try:
        for raw in list_of(doc, key):
            obj = as_dict(raw, N_("a folder is not in the shape Bitwarden writes"))
            ident, name = text_of(obj, "id"), text_of(obj, "name")
            if ident and name:
                names[ident] = name
    except BadInput:
        raise BadImport(
            _("not a Bitwarden export: its {key} list is malformed").format(key=repr(key))
        ) from None
    return names


def read_json(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    no_mapping(options, fmt)
    doc = load_json(read_bytes(path), "Bitwarden JSON")
    if not isinstance(doc, dict):
        raise BadImport(_("not a Bitwarden JSON export: the top level is not an object"))
    if doc.get("encrypted") is True or "encKeyValidation_DO_NOT_EDIT" in doc:
        raise BadImport(
            _("this Bitwarden export is encrypted"),
            hint=_(
                "in Bitwarden, export again choosing the '.json' file format, not '.json "
                "(Encrypted)'; delete the unencrypted file once it is imported"
            ),
        )
    items = doc.get("items")
    if not isinstance(items, list):
        raise BadImport(_("not a Bitwarden JSON export: it has no list of items"))
    folders, collections = _names(doc, "folders"), _names(doc, "collections")
    out = Collector(fmt, options)
    for n, raw in enumerate(items, start=1):
        place = _("item {n}").format(n=n)

        def make(raw: object = raw, place: str = place) -> Entry | None:
            item = as_dict(raw, N_("the item is not in the shape Bitwarden writes"))
            return _item(place, item, folders, collections, out)

        out.attempt(place, make)
    return out.result


CSV_ALIASES = {
    "folder": "folder",
    "collections": "collections",
    "favorite": "favorite",
    "type": "type",
    "name": "title",
    "notes": "notes",
    "fields": "fields",
    "loginuri": "url",
    "loginusername": "username",
    "loginpassword": "password",
    "logintotp": "totp",
    "archiveddate": "archived",
}
CSV_TABLE = Table(
    "Bitwarden CSV",
    "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,…",
    CSV_ALIASES,
    ("type", "title", "url", "username", "password"),
    frozenset({"reprompt"}),
)


def parse_fields(cell: str) -> list[tuple[str, str]]:
    """Bitwarden's `fields` cell: one `name: value` per line."""
    pairs = []
    for line in cell.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(": ")
        pairs.append((name, value) if sep else ("field", line))
    return pairs


def _csv_row(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry | None:
    get = columns.get
    if get(cells, "archived").strip():
        out.skip(row_place(number), _("archived"))
        return None
    entry = row_entry(number, cells, columns)
    entry.url, more = _uris(entry.url.split(","))
    entry.tags = [get(cells, "folder"), *split_tags(get(cells, "collections"))]
    entry.fields = more + parse_fields(get(cells, "fields")) + entry.fields
    return entry


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """A Bitwarden JSON or CSV export as records."""
    if fmt == "bitwarden-json":
        return read_json(path, fmt, options)
    if fmt == "bitwarden-csv":
        return read_table(path, fmt, options, CSV_TABLE, _csv_row)
    raise UsageError(_("the Bitwarden reader does not read {format}").format(format=repr(fmt)))
