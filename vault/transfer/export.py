"""The way out: a KeePass database (KDBX 4, Argon2id) that KeePassXC opens, and a
plaintext CSV for a spreadsheet. Both take item payloads (vault.item.Payload) and write
one private file (mode 0600) through a temp file in the same folder, fsync and rename,
so a crash or a full disk never leaves half a file under the final name.

The .kdbx is built with pykeepass from its blank KDBX 4 template, with the KDF switched
from the template's Argon2d to Argon2id. Each item becomes one entry in the root group:
Title, UserName, Password, URL, Notes, the TOTP as KeePassXC's `otp` attribute (the
otpauth URI, which KeePassXC shows as TOTP), each custom field as one more protected
attribute, and the tags as KeePass tags.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import errno
import io
import os
import re
import secrets
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import i18n
from ..clock import Clock, system_clock
from ..errors import AlreadyExists, BadInput, StorageError
from ..fsutil import fsync_dir, write_new
from ..i18n import N_, _
from ..item import Payload
from .keepass import shown


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost for a new .kdbx: memory in KiB, passes over it, and threads."""

    memory_kib: int
    iterations: int
    parallelism: int


# KeePassXC's own default memory (64 MiB: phone apps' autofill extensions cap memory, so
# more would lock the client out there) with about a second of work on a laptop.
STRONG_KDF = KdfParams(memory_kib=64 << 10, iterations=20, parallelism=2)

# KeePass's reserved string names: a custom field of the same name is renamed.
_RESERVED = {"Title", "UserName", "Password", "URL", "Notes", "otp"}
# What the refusal says when a string cannot go into the file, by its KeePass name.
_UNSTORABLE = {
    "Title": N_("item {title}: the title holds characters a KeePass file cannot store"),
    "UserName": N_("item {title}: the username holds characters a KeePass file cannot store"),
    "Password": N_("item {title}: the password holds characters a KeePass file cannot store"),
    "URL": N_("item {title}: the URL holds characters a KeePass file cannot store"),
    "Notes": N_("item {title}: the notes hold characters a KeePass file cannot store"),
    "otp": N_("item {title}: the 2FA seed holds characters a KeePass file cannot store"),
}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ARGON2ID = bytes.fromhex("9e298b1956db4773b23dfc3ec6f0a1e6")
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_blank_key: bytes | None = None  # pykeepass's blank template, its KDF already run


# ---------------------------------------------------------------- .kdbx


def write_kdbx(
    path: Path,
    items: list[Payload],
    password: str,
    *,
    overwrite: bool = False,
    kdf_params: KdfParams | None = None,
) -> None:
    """Write `items` as a KDBX 4 database protected by `password` (Argon2id)."""
    path = Path(path)
    _check_target(path, overwrite)
    data = kdbx_bytes(items, password, kdf_params or STRONG_KDF)
    _write_private(path, data, overwrite)


def kdbx_bytes(
    items: list[Payload], password: str, kdf: KdfParams = STRONG_KDF, clock: Clock = system_clock
) -> bytes:
    """The bytes of a KDBX 4 database holding `items`; nothing is written to disk."""
    if not isinstance(password, str) or not password:
        raise BadInput(_("a KeePass export needs a password"))
    if kdf.memory_kib < 8 or kdf.iterations < 1 or not 1 <= kdf.parallelism <= 256:
        raise BadInput(_("the settings that protect the KeePass file are out of range"))
    entries = [_entry_strings(item) for item in items]
    kp = _template(password, kdf)
    seconds = int((clock() - _EPOCH).total_seconds())
    now = base64.b64encode(struct.pack("<q", seconds)).decode("ascii")
    root = kp.tree.find("Root/Group")
    root.find("UUID").text = _new_uuid()  # the template's is the same in every file
    root.find("Name").text = "takusu"
    for stamp in root.find("Times"):
        if stamp.tag.endswith("Time") or stamp.tag == "LocationChanged":
            stamp.text = now
    for strings, tags in entries:
        root.append(_entry_element(strings, tags, now))
    buffer = io.BytesIO()
    kp.save(buffer)
    return buffer.getvalue()


def _template(password: str, kdf: KdfParams) -> Any:
    """pykeepass's blank KDBX 4 database, switched to Argon2id with `kdf` and `password`."""
    from pykeepass import PyKeePass
    from pykeepass.pykeepass import (
        BLANK_DATABASE_LOCATION,
        BLANK_DATABASE_PASSWORD,
    )

    global _blank_key
    kp = PyKeePass(
        BLANK_DATABASE_LOCATION, password=BLANK_DATABASE_PASSWORD, transformed_key=_blank_key
    )
    _blank_key = kp.transformed_key  # opening the template costs an Argon2 run: once
    if kp.version != (4, 0):
        raise StorageError(
            _("the blank database of the pykeepass library is not KDBX 4; takusu cannot export")
        )
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    params["$UUID"].value = _ARGON2ID
    params["M"].value = kdf.memory_kib * 1024
    params["I"].value = kdf.iterations
    params["P"].value = kdf.parallelism
    kp.password = password
    kp.database_name = "takusu"
    return kp


def _entry_element(strings: list[tuple[str, str, bool]], tags: list[str], now: str) -> Any:
    """One KeePass entry as XML (what KeePassXC shows: strings, protected where secret)."""
    from lxml.builder import E

    element = E.Entry(
        E.UUID(_new_uuid()),  # not pykeepass's uuid1, which carries the machine's MAC
        E.IconID("0"),
        E.Tags(";".join(tags)),
        E.Times(
            E.CreationTime(now),
            E.LastModificationTime(now),
            E.LastAccessTime(now),
            E.ExpiryTime(now),
            E.Expires("False"),
            E.UsageCount("0"),
            E.LocationChanged(now),
        ),
    )
    for key, value, protect in strings:
        value_node = E.Value(value, Protected="True") if protect else E.Value(value)
        element.append(E.String(E.Key(key), value_node))
    element.append(E.AutoType(E.Enabled("True"), E.DataTransferObfuscation("0")))
    element.append(E.History())
    return element


def _entry_strings(item: Payload) -> tuple[list[tuple[str, str, bool]], list[str]]:
    """(key, value, protected) for each KeePass string of one item, and its tags."""
    title = item.get("title") or ""
    if not isinstance(title, str) or not title.strip():
        raise BadInput(_("an item to export has no title"))
    standard = [
        ("Title", title, False),
        ("UserName", item.get("username") or "", False),
        ("Password", item.get("password") or "", True),
        ("URL", item.get("url") or "", False),
        ("Notes", item.get("notes") or "", False),
    ]
    if item.get("totp"):
        standard.append(("otp", str(item["totp"]), True))
    strings = list(standard)
    taken = {key for key, _value, _protect in strings}
    for name, value in (item.get("fields") or {}).items():
        key = _free_name(str(name), taken)
        taken.add(key)
        strings.append((key, str(value), True))
    for key, value, _protect in strings:
        if _NOT_XML.search(key) or _NOT_XML.search(value):
            if key in _UNSTORABLE:
                message = i18n._(_UNSTORABLE[key])
            else:
                message = _(
                    "item {title}: a custom field holds characters a KeePass file cannot store"
                )
            raise BadInput(message.format(title=repr(shown(title))))
    tags = [str(t) for t in item.get("tags") or [] if str(t).strip()]
    if any(_NOT_XML.search(t) for t in tags):
        raise BadInput(
            _("item {title}: a tag holds characters a KeePass file cannot store").format(
                title=repr(shown(title))
            )
        )
    return strings, tags


def _free_name(name: str, taken: set[str]) -> str:
    """A custom field's name, renamed when KeePass reserves it or another field has it."""
    if not name.strip():
        name = "field"
    if name not in _RESERVED and name not in taken:
        return name
    candidate, n = f"{name} (field)", 2
    while candidate in _RESERVED or candidate in taken:
        candidate, n = f"{name} (field {n})", n + 1
    return candidate


def _new_uuid() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


# ---------------------------------------------------------------- plaintext CSV

STANDARD_COLUMNS = ("title", "username", "password", "url", "notes", "totp", "tags")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_plain_csv(path: Path, items: list[Payload], *, overwrite: bool = False) -> None:
    """Write `items` as a plaintext CSV: UTF-8 with a BOM (so Excel reads it as UTF-8),
    the standard columns then one per custom field name. A cell that a spreadsheet would
    run as a formula (it starts with = + - @, a tab or CR) gets a leading apostrophe, so
    such a password shows with a ' in front in the file."""
    path = Path(path)
    _check_target(path, overwrite)
    _write_private(path, csv_bytes(items), overwrite)


def csv_bytes(items: list[Payload]) -> bytes:
    custom: dict[str, str] = {}  # field name -> its column header
    taken = {c.casefold() for c in STANDARD_COLUMNS}
    for item in items:
        for name in item.get("fields") or {}:
            if name not in custom:
                header, n = name, 1
                while header.casefold() in taken:
                    header, n = f"{name} (field{'' if n == 1 else f' {n}'})", n + 1
                taken.add(header.casefold())
                custom[name] = header
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_defused([*STANDARD_COLUMNS, *custom.values()]))
    for item in items:
        fields = item.get("fields") or {}
        row = [
            item.get("title") or "",
            item.get("username") or "",
            item.get("password") or "",
            item.get("url") or "",
            item.get("notes") or "",
            item.get("totp") or "",
            ", ".join(str(t) for t in item.get("tags") or []),
        ]
        row += [fields.get(name, "") for name in custom]
        writer.writerow(_defused(row))
    return out.getvalue().encode("utf-8-sig")


def _defused(cells: Iterable[Any]) -> list[str]:
    return ["'" + c if c.startswith(_FORMULA_START) else c for c in map(str, cells)]


# ---------------------------------------------------------------- private atomic write


def _check_target(path: Path, overwrite: bool) -> None:
    if path.is_symlink():
        raise StorageError(
            _("{path} is a symbolic link; takusu does not write through links").format(path=path)
        )
    if path.exists() and (not overwrite or not path.is_file()):
        raise _exists(path)
    if not path.parent.is_dir():
        raise StorageError(_("cannot write {path}: its folder does not exist").format(path=path))


def _exists(path: Path) -> AlreadyExists:
    return AlreadyExists(
        _("{path} already exists").format(path=path),
        hint=_("choose another file name, or remove that file"),
    )


def _write_private(path: Path, data: bytes, overwrite: bool) -> None:
    """A private temp file beside `path` (0600, fsynced), then renamed into place; without
    `overwrite`, linked into place instead, which fails if `path` appeared meanwhile."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        write_new(tmp, data)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        if exc.strerror:
            raise StorageError(
                _("cannot write {path}: {reason}").format(path=path, reason=exc.strerror)
            ) from None
        raise StorageError(_("cannot write {path}").format(path=path)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # a file system without hard links (FAT on a USB stick): check, then rename
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "exists") from None
        os.rename(tmp, path)
