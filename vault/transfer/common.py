"""What every import reader shares: capped reading, text decoding, CSV rows, header
mapping, title and name cleaning, TOTP normalising, tags, and typed JSON access.

Every failure is a `BadImport` (the whole source) or a `BadInput` whose message becomes
one refusal's reason (collect.py); no message ever holds a value read from the source.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .. import i18n
from ..errors import BadImport, BadInput, UsageError
from ..i18n import N_, _
from ..item import STANDARD_FIELDS
from ..totp import normalize
from .record import ReadOptions

# Limits. A source over MAX_SOURCE is refused before it is read; a value over MAX_CELL
# characters, or an entry whose values add up to more than MAX_ROW, is refused as a row.
MAX_SOURCE = 64 << 20
MAX_CELL = 64 << 10
MAX_ROW = 256 << 10
MAX_COLUMNS = 500
MAX_TITLE = 200  # the vault's own limit (session.put)
MAX_NAME = 100  # a custom field's name or a tag

# Code points refused in titles, field names and tags: control, format (bidi overrides,
# zero-width), surrogate, private-use, unassigned, and line/paragraph separators.
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


# -- reading -------------------------------------------------------------------------


def read_bytes(path: Path, limit: int = MAX_SOURCE, head: int | None = None) -> bytes:
    """The bytes of a regular file (only the first `head` when given), refused before
    reading when the file is over `limit`."""
    too_large = _("{path} is larger than {size} MiB; takusu does not read it")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise BadImport(_("{path} is a folder, not an export file").format(path=path))
    if not stat.S_ISREG(info.st_mode):
        raise BadImport(_("{path} is not a regular file").format(path=path))
    if info.st_size > limit:
        raise BadImport(too_large.format(path=path, size=limit >> 20))
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1 if head is None else head)
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if len(data) > limit:
        raise BadImport(too_large.format(path=path, size=limit >> 20))
    return data


def cannot_read(path: Path, exc: OSError) -> BadImport:
    """The refusal of a source the system would not let takusu read."""
    if exc.strerror:
        return BadImport(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror))
    return BadImport(_("cannot read {path}").format(path=path))


def decode_text(data: bytes) -> str:
    """Text from a UTF-8 (with or without BOM), UTF-16 (with BOM) or CP932 file.

    CP932, not Shift_JIS: Japanese Excel writes Microsoft's superset, and the plain
    codec fails on characters people really use (髙, ①, ㈱)."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8")
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp932")
    except UnicodeDecodeError:
        raise BadImport(
            _("the file is not text in UTF-8 or CP932 (Japanese Excel)"),
            hint=_("save it from the spreadsheet as 'CSV UTF-8'"),
        ) from None
    if "\x00" in text:
        raise BadImport(_("the file holds NUL bytes: it is not a text export"))
    return text


def csv_rows(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for each CSV record; the first record is row 1, as a
    spreadsheet numbers them (a quoted multi-line cell is still one row)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            if "field larger" in str(exc):
                raise BadImport(
                    _(
                        "a cell near line {line} of the file is too large (a quote mark "
                        "that is never closed?)"
                    ).format(line=line)
                ) from None
            raise BadImport(
                _("the file is not well-formed CSV near line {line} (a stray quote mark?)").format(
                    line=line
                )
            ) from None
        number += 1
        yield number, cells


def sniff_delimiter(text: str) -> str:
    """Tab for a tab-separated first line (Excel's 'Unicode text'), comma otherwise."""
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


# -- headers -------------------------------------------------------------------------


def header_key(text: str) -> str:
    """A column name as compared: NFKC (full-width to half-width), case-folded, with
    spaces, underscores, hyphens and dots removed ('Login_URI', 'ログイン ＵＲＬ')."""
    return re.sub(r"[\s_\-.・/]", "", unicodedata.normalize("NFKC", text).casefold())


@dataclass
class Columns:
    """Which column holds what: `known` maps a field to its column index; `custom` lists
    (index, field name) for the rest; `names` are the header cells as written."""

    known: dict[str, int]
    custom: list[tuple[int, str]]
    names: list[str]

    def get(self, cells: list[str], name: str) -> str:
        index = self.known.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def extras(self, cells: list[str]) -> list[tuple[str, str]]:
        """(name, value) of the custom columns, and of cells beyond the header."""
        pairs = [(name, cells[i]) for i, name in self.custom if i < len(cells)]
        pairs += [(f"column {i + 1}", cells[i]) for i in range(len(self.names), len(cells))]
        return pairs


# Fields a column can fill (beyond these, a --map target names a custom field).
_MAPPABLE = {*STANDARD_FIELDS, "tags", "favorite"}
_SYNONYMS = {"name": "title", "user": "username", "note": "notes", "otp": "totp", "tag": "tags"}


def _target(name: str) -> str:
    """A --map FIELD: a standard field (any case, a few synonyms) or a custom name."""
    key = name.strip().lower()
    key = _SYNONYMS.get(key, key)
    return key if key in _MAPPABLE else name.strip()


def map_columns(
    header: list[str],
    aliases: dict[str, str],
    mapping: dict[str, str] | None = None,
    ignore: Iterable[str] = (),
) -> Columns:
    """Map header cells to fields: `mapping` (`--map COLUMN=FIELD`) first, then `aliases`
    (header_key -> field); the first column for a field wins, later ones and unknown
    columns become custom fields named by their header, `ignore` keys are dropped."""
    if len(header) > MAX_COLUMNS:
        raise BadImport(_("the header has more than {max} columns").format(max=MAX_COLUMNS))
    names = [cell.strip() for cell in header]
    for i, name in enumerate(names):
        if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in name):
            raise BadImport(_("the name of column {n} holds a control character").format(n=i + 1))
    if any(not col.strip() or not fld.strip() for col, fld in (mapping or {}).items()):
        raise UsageError(_("--map takes COLUMN=FIELD, both non-empty"))
    wanted = {header_key(col): _target(fld) for col, fld in (mapping or {}).items()}
    keys = [header_key(name) for name in names]
    missing = [col for col in (mapping or {}) if header_key(col) not in keys]
    if missing:
        raise UsageError(
            _("--map names a column the file does not have: {columns}").format(
                columns=", ".join(missing)
            ),
            # never list the header cells: in a file without a header they are data
            hint=_("write COLUMN exactly as the header row names it"),
        )
    skip = set(ignore)
    known: dict[str, int] = {}
    custom: list[tuple[int, str]] = []
    for i, key in enumerate(keys):
        by_user = key in wanted
        target = wanted[key] if by_user else aliases.get(key)
        if target is None and key in skip:
            continue
        if target is not None and by_user and target not in _MAPPABLE:
            custom.append((i, target))  # --map COLUMN=any-other-name: a custom field
        elif target is None or target in known:
            custom.append((i, names[i] or f"column {i + 1}"))
        else:
            known[target] = i
    return Columns(known, custom, names)


def no_mapping(options: ReadOptions, fmt: str) -> None:
    """--map is for spreadsheets; a tool's export has fixed columns."""
    if options.mapping:
        raise UsageError(_("--map applies to --format csv, not to {format}").format(format=fmt))


def is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


# -- text ----------------------------------------------------------------------------


# What a refusal says of a control or format character, by what holds it.
_BAD_CHAR = {
    "title": N_("the title has a control or format character at position {position} ({code})"),
    "field": N_("a field name has a control or format character at position {position} ({code})"),
    "tag": N_("a tag has a control or format character at position {position} ({code})"),
}


def _check_chars(text: str, what: str) -> None:
    """BadInput naming the position of the first control or format character; `what` is
    "title", "field" or "tag"."""
    for i, ch in enumerate(text, start=1):
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            message = i18n._(_BAD_CHAR[what])
            raise BadInput(message.format(position=i, code=f"U+{ord(ch):04X}"))


def clean_title(text: str) -> str:
    """A title as takusu stores it: surrounding whitespace stripped, NFC, 1 to 200
    characters; BadInput (naming the position) for a control or format character,
    bidi overrides included. A leading '=' is kept: a title is text, never a formula."""
    title = unicodedata.normalize("NFC", text.strip())
    _check_chars(title, "title")
    if not 1 <= len(title) <= MAX_TITLE:
        raise BadInput(_("a title is 1 to {max} characters").format(max=MAX_TITLE))
    return title


def clean_name(text: str, tag: bool = False) -> str:
    """A custom field's name (or a tag, with `tag`): stripped, NFC, 1 to 100 characters,
    no control or format characters."""
    name = unicodedata.normalize("NFC", text.strip())
    _check_chars(name, "tag" if tag else "field")
    if not 1 <= len(name) <= MAX_NAME:
        if tag:
            raise BadInput(_("a tag is 1 to {max} characters").format(max=MAX_NAME))
        raise BadInput(_("a field name is 1 to {max} characters").format(max=MAX_NAME))
    return name


def label(text: str, limit: int = 60) -> str:
    """A name from the source (a vault, a folder) made safe to put in a `place`."""
    safe = "".join("?" if unicodedata.category(ch) in _BAD_CATEGORIES else ch for ch in text)
    return safe.strip()[:limit] or "?"


def host_of(url: str) -> str | None:
    """The host of a URL (with or without a scheme), without 'www.', IDNA decoded; None
    when there is none. Userinfo ('user:pass@') never reaches the result."""
    url = url.strip()
    if not url:
        return None
    if "://" not in url and not url.startswith("//"):
        url = "//" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    if "xn--" in host:
        try:
            host = host.encode("ascii").decode("idna")
        except UnicodeError:
            pass
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def derive_title(url: str, username: str) -> str:
    """A title for an entry that has none: the URL's host, else the username."""
    host = host_of(url)
    if host:
        return host
    if username.strip():
        return username.strip()
    raise BadInput(_("it has no title, and no URL or username to name it by"))


TRUE_WORDS = {"1", "true", "yes", "y", "x", "on", "○", "◯", "〇", "●", "★", "☆", "✓", "はい"}


def truthy(value: str) -> bool:
    """A spreadsheet or export's yes: 1, true, yes, ○, ★, はい …"""
    return unicodedata.normalize("NFKC", value).strip().casefold() in TRUE_WORDS


def split_tags(value: str) -> list[str]:
    """Tags in one cell, separated by commas or semicolons (ASCII or Japanese)."""
    return [part.strip() for part in re.split(r"[,;、，；]", value) if part.strip()]


def group_tag(parts: Iterable[str]) -> list[str]:
    """One tag for a folder or group path ('Work/Banking'); none for the top level."""
    path = "/".join(p.strip() for p in parts if p.strip())
    return [path] if path else []


def normalize_totp(value: str, title: str) -> str:
    """One validated otpauth:// URI from a URI or a bare seed (spaces and lowercase
    allowed); BadInput that never echoes the value."""
    if value.strip().lower().startswith("steam://"):
        raise BadInput(_("a Steam Guard (steam://) seed is not a standard 2FA seed"))
    return normalize(value, title)


# -- JSON ------------------------------------------------------------------------------


def load_json(data: bytes, tool: str) -> object:
    """The JSON document in `data` (UTF-8, BOM allowed); BadImport when it is not. `tool`
    names the export in the message ("Bitwarden JSON", "1PUX")."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadImport(
            _("not a {tool} export: the file is not UTF-8 text").format(tool=tool)
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadImport(
            _("not a {tool} export: the JSON is nested too deeply").format(tool=tool)
        ) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise BadImport(
                _("not a {tool} export: the file is not valid JSON (line {line})").format(
                    tool=tool, line=exc.lineno
                )
            ) from None
        raise BadImport(
            _("not a {tool} export: the file is not valid JSON").format(tool=tool)
        ) from None


def text_of(obj: dict[str, object], key: str) -> str:
    """A string member ('' when absent or null); BadInput when it is something else."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput(_("its {key} is not text").format(key=repr(key)))
    return value


def dict_of(obj: dict[str, object], key: str) -> dict[str, object]:
    """An object member ({} when absent or null); BadInput when it is something else."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(_("its {key} is not in the shape expected").format(key=repr(key)))
    return value


def list_of(obj: dict[str, object], key: str) -> list[object]:
    """An array member ([] when absent or null); BadInput when it is something else."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadInput(_("its {key} is not a list").format(key=repr(key)))
    return value


def as_dict(value: object, refusal: str) -> dict[str, object]:
    """`value` as an object; BadInput with `refusal` (a msgid marked with N_, translated
    here) when it is something else."""
    if not isinstance(value, dict):
        raise BadInput(i18n._(refusal))
    return value
