"""Which export a file is, from its content first and its name second.

Returns one of the READERS names: `pass` for a folder with a `.gpg-id`; `kdbx` by
KeePass 2's magic bytes; `1pux` for a zip holding `export.data`; `keepass-xml` for an
XML document whose root is `<KeePassFile>`; `bitwarden-json` for Bitwarden's JSON; for a
CSV, the tool whose header row it has (`chrome`, `firefox`, `safari`, `bitwarden-csv`,
`1password-csv`, `keepassxc-csv`), else `csv`, a spreadsheet. Anything else is a
BadImport that says what the file seems to be.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from ..errors import BadImport
from ..i18n import _
from .common import read_bytes

KDBX_MAGIC = bytes.fromhex("03D9A29A67FB4BB5")
KDB_MAGIC = bytes.fromhex("03D9A29A65FB4BB5")  # KeePass 1.x
HEAD = 64 << 10
_BITWARDEN_KEYS = re.compile(
    r'"(encrypted|passwordProtected|encKeyValidation_DO_NOT_EDIT|folders|items|collections)"\s*:'
)
_XML_PROLOG = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.S)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*)")
_BY_EXTENSION = {".csv": "csv", ".tsv": "csv", ".1pux": "1pux", ".json": "bitwarden-json"}


def detect(path: Path) -> str:
    """The format name of `path`; BadImport when it is not an export takusu reads."""
    if path.is_dir():
        if (path / ".gpg-id").is_file():
            return "pass"
        raise BadImport(
            _("{path} is a folder, and not a pass store (it has no .gpg-id)").format(path=path)
        )
    head = read_bytes(path, head=HEAD)
    if not head:
        raise BadImport(_("{path} is empty").format(path=path))
    found = _by_magic(path, head)
    if found is None:
        text = _head_text(head, truncated=len(head) == HEAD)
        if text is None or text.startswith("-----BEGIN PGP"):
            _refuse_gpg(path, head)
        if text is not None:
            found = _by_text(text)
    if found is None:
        found = _BY_EXTENSION.get(path.suffix.lower())
    if found is None:
        raise BadImport(
            _("cannot tell what kind of export {path} is").format(path=path),
            hint=_(
                "name it with --format (csv, chrome, firefox, safari, bitwarden-json, "
                "bitwarden-csv, 1pux, 1password-csv, keepassxc-csv, keepass-xml, kdbx, pass)"
            ),
        )
    return found


def _by_magic(path: Path, head: bytes) -> str | None:
    if head.startswith(KDBX_MAGIC):
        return "kdbx"
    if head.startswith(KDB_MAGIC):
        raise BadImport(
            _("this is a KeePass 1 (.kdb) database, which takusu does not read"),
            hint=_("open it in KeePassXC (Database > Import > KeePass 1) and save it as .kdbx"),
        )
    if path.suffix.lower() == ".kdbx":
        raise BadImport(
            _("{path} is not a KeePass database (its first bytes are wrong)").format(path=path)
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    return None


def _refuse_gpg(path: Path, head: bytes) -> None:
    """A gpg message (binary packets, checked only once the file is known not to be
    text: 0x84/0x85/0x8C also start CP932 characters, or ASCII armor)."""
    if head[:1] in (b"\x84", b"\x85", b"\x8c") or head.startswith(b"-----BEGIN PGP"):
        raise BadImport(
            _("{path} is a gpg-encrypted file").format(path=path),
            hint=_("to import a pass store, give its folder (the one with .gpg-id)"),
        )


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        if path.suffix.lower() == ".1pux":
            return "1pux"  # the reader says what is wrong with it
        raise BadImport(_("{path} is a damaged zip archive").format(path=path)) from None
    if "export.data" in names or path.suffix.lower() == ".1pux":
        return "1pux"
    if "data.json" in names:
        raise BadImport(
            _("this looks like Bitwarden's zip export (with attachments)"),
            hint=_("unzip it and import its data.json (attachments are not imported)"),
        )
    raise BadImport(_("{path} is a zip archive, but not a 1Password 1PUX export").format(path=path))


def _head_text(head: bytes, truncated: bool) -> str | None:
    """The start of the file as text (UTF-8, UTF-16 or CP932), or None for binary."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    for codec in ("utf-8", "cp932"):
        try:
            text = head.decode(codec)
        except UnicodeDecodeError as exc:
            if not truncated or exc.start < len(head) - 3:
                continue
            try:
                text = head[: exc.start].decode(codec)
            except UnicodeDecodeError:
                continue
        return None if "\x00" in text else text
    return None


def _by_text(text: str) -> str | None:
    body = text.lstrip()
    if body.startswith("<"):
        prolog = _XML_PROLOG.match(body)
        root = _XML_ROOT.match(body, prolog.end() if prolog else 0)
        if root and root.group(1) == "KeePassFile":
            return "keepass-xml"
        raise BadImport(_("an XML file, but not a KeePass XML export (no <KeePassFile> root)"))
    if body.startswith(("{", "[")):
        if _BITWARDEN_KEYS.search(body):
            return "bitwarden-json"
        if '"accounts"' in body:
            raise BadImport(
                _("this looks like the export.data inside a 1PUX archive"),
                hint=_("import the .1pux file itself"),
            )
        raise BadImport(_("a JSON file, but not a Bitwarden export"))
    return _by_header(text)


def _by_header(text: str) -> str | None:
    first = text.split("\n", 1)[0]
    try:
        header = next(csv.reader(io.StringIO(first)), [])
    except csv.Error:
        return None
    keys = [cell.strip().casefold() for cell in header]
    if keys[:3] == ["url", "username", "password"] and "httprealm" in keys:
        return "firefox"
    if keys in (
        ["name", "url", "username", "password"],
        ["name", "url", "username", "password", "note"],
    ):
        return "chrome"
    if set(keys) == {"title", "url", "username", "password", "notes", "otpauth"}:
        return "safari"
    if {"type", "name", "login_uri", "login_username", "login_password"} <= set(keys):
        return "bitwarden-csv"
    if {"title", "username", "password"} <= set(keys) and (
        "archived" in keys or {"otpauth", "favorite"} <= set(keys)
    ):
        return "1password-csv"
    if keys[:4] == ["group", "title", "username", "password"]:
        return "keepassxc-csv"
    if len(keys) >= 2 or "\t" in first:
        return "csv"
    return None
