"""From a reader's raw entries to records: every check in one place.

A reader turns each row or item of its source into an `Entry` (raw strings, nothing
checked yet) and hands a function making it to `Collector.attempt`, which checks sizes,
the title, names, tags and the TOTP (`build`) and files the outcome as a record or a
refusal with its place; the reader files skips itself. `read_table`, `each_row` and
`row_entry` are the loop every CSV export shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..errors import BadImport, BadInput
from ..i18n import _
from ..item import STANDARD_FIELDS
from .common import (
    MAX_CELL,
    MAX_COLUMNS,
    MAX_ROW,
    Columns,
    clean_name,
    clean_title,
    csv_rows,
    decode_text,
    derive_title,
    header_key,
    is_blank,
    map_columns,
    no_mapping,
    normalize_totp,
    read_bytes,
    split_tags,
    truthy,
)
from .record import ReadOptions, ReadResult, Record, Refusal


@dataclass
class Entry:
    """One row or item as the source has it, before any check; `fields` keeps order."""

    place: str
    title: str = ""
    username: str = ""
    password: str = ""
    url: str = ""
    notes: str = ""
    totp: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    favorite: bool = False
    notices: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<Entry {self.place} <redacted>>"


def _check_sizes(entry: Entry) -> None:
    values = [entry.title, entry.username, entry.password, entry.url, entry.notes, entry.totp]
    values += [v for pair in entry.fields for v in pair] + entry.tags
    if any(len(v) > MAX_CELL for v in values):
        raise BadInput(_("a value is longer than {max} characters").format(max=MAX_CELL))
    if sum(len(v) for v in values) > MAX_ROW:
        raise BadInput(_("the entry is larger than {max} characters in all").format(max=MAX_ROW))


def _add_field(fields: dict[str, str], name: str, value: str) -> None:
    name = clean_name(name)
    if name.casefold() in STANDARD_FIELDS or name.casefold() in ("tags", "fields"):
        name = f"{name} (2)"
    candidate, n = name, 1
    while candidate in fields:
        n += 1
        candidate = f"{name} ({n})"
    fields[candidate] = value


def _lines(text: str) -> str:
    """Line ends as a plain newline in notes and custom fields (never in a password)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def build(entry: Entry, options: ReadOptions) -> Record:
    """The record an entry becomes; BadInput (the refusal's reason) when it cannot."""
    _check_sizes(entry)
    if entry.title.strip():
        title = clean_title(entry.title)
    else:
        title = clean_title(derive_title(entry.url, entry.username))
    notices = list(entry.notices)
    totp = None
    if entry.totp.strip():
        try:
            totp = normalize_totp(entry.totp, title)
        except BadInput as exc:
            if not options.skip_bad_totp:
                raise BadInput(
                    _("the 2FA seed is not valid: {problem}").format(problem=exc.message)
                ) from None
            notices.append(
                _("the 2FA seed was not imported: {problem}").format(problem=exc.message)
            )
    fields: dict[str, str] = {}
    for name, value in entry.fields:
        if value.strip():
            _add_field(fields, name or "field", _lines(value))
    tags: list[str] = []
    for tag in entry.tags:
        if tag.strip():
            cleaned = clean_name(tag, tag=True)
            if cleaned not in tags:
                tags.append(cleaned)
    return Record(
        title=title,
        place=entry.place,
        username=entry.username.strip() or None,
        password=entry.password or None,
        url=entry.url.strip() or None,
        notes=_lines(entry.notes).strip() or None,
        totp=totp,
        fields=fields,
        tags=tags,
        favorite=entry.favorite,
        notices=notices,
    )


class Collector:
    """Gathers what a reader finds into one ReadResult."""

    def __init__(self, fmt: str, options: ReadOptions) -> None:
        self.result = ReadResult(format=fmt)
        self.options = options

    def attempt(self, place: str, make: Callable[[], Entry | None]) -> Record | None:
        """Build the entry `make` returns (None: nothing to add) and keep the record;
        a BadInput from either step refuses the row with its message."""
        try:
            entry = make()
            if entry is None:
                return None
            record = build(entry, self.options)
        except BadInput as exc:
            self.refuse(place, exc.message)
            return None
        self.result.records.append(record)
        return record

    def refuse(self, place: str, reason: str) -> None:
        self.result.refused.append(Refusal(place=place, reason=reason))

    def skip(self, place: str, reason: str) -> None:
        self.result.skipped.append(Refusal(place=place, reason=reason))

    def notice(self, text: str) -> None:
        if text not in self.result.notices:
            self.result.notices.append(text)


def skip_blank_runs(collector: Collector, blanks: list[int]) -> None:
    """One skip per run of consecutive blank rows ('rows 40-950: blank')."""
    if not blanks:
        return
    start = prev = blanks[0]
    for n in [*blanks[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        if start == prev:
            place = row_place(start)
        else:
            place = _("rows {start}-{end}").format(start=start, end=prev)
        collector.skip(place, _("blank"))
        if n is not None:
            start = prev = n


def row_place(number: int) -> str:
    """Where a row is, for messages: "row 12"."""
    return _("row {n}").format(n=number)


@dataclass(frozen=True)
class Table:
    """A tool's CSV export: the tool's name (for messages, "Bitwarden CSV"), its header
    as the tool writes it (for messages), header_key -> field, the fields it must have,
    the columns not kept, and columns that mark another tool's export (KeePassXC's Group
    is not 1Password's)."""

    tool: str
    header: str
    aliases: dict[str, str]
    required: tuple[str, ...]
    ignore: frozenset[str] = frozenset()
    foreign: frozenset[str] = frozenset()


RowMaker = Callable[[int, list[str], Columns, Collector], Entry | None]


def row_entry(number: int, cells: list[str], columns: Columns) -> Entry:
    """A CSV row's entry from its mapped columns: the standard fields, tags split,
    favourite read as yes/no, every other column a custom field."""
    get = columns.get
    return Entry(
        place=row_place(number),
        title=get(cells, "title"),
        username=get(cells, "username"),
        password=get(cells, "password"),
        url=get(cells, "url"),
        notes=get(cells, "notes"),
        totp=get(cells, "totp"),
        tags=split_tags(get(cells, "tags")),
        favorite=truthy(get(cells, "favorite")),
        fields=columns.extras(cells),
    )


def read_table(
    path: Path, fmt: str, options: ReadOptions, table: Table, make: RowMaker
) -> ReadResult:
    """A tool's CSV export (fixed columns, header on row 1), each data row built by
    `make`; BadImport when the header is not the tool's."""
    no_mapping(options, fmt)
    text = decode_text(read_bytes(path))
    rows = list(csv_rows(text))
    if not rows:
        raise BadImport(_("the file is empty"))
    columns = map_columns(rows[0][1], table.aliases, ignore=table.ignore)
    foreign = {header_key(name) for name in columns.names} & table.foreign
    if foreign or any(name not in columns.known for name in table.required):
        raise BadImport(
            _("not a {tool} export: its first row should be the header {header}").format(
                tool=table.tool, header=table.header
            )
        )
    out = Collector(fmt, options)
    each_row(out, rows[1:], columns, make)
    return out.result


def each_row(
    out: Collector, rows: list[tuple[int, list[str]]], columns: Columns, make: RowMaker
) -> None:
    """Build every non-blank row with `make`, which returns None for a row it skipped
    itself; runs of blank rows are one skip each."""
    blanks: list[int] = []
    for number, cells in rows:
        if is_blank(cells):
            blanks.append(number)
            continue
        out.attempt(row_place(number), partial(_row, make, number, cells, columns, out))
    skip_blank_runs(out, blanks)


def _row(
    make: RowMaker, number: int, cells: list[str], columns: Columns, out: Collector
) -> Entry | None:
    if len(cells) > MAX_COLUMNS:
        raise BadInput(_("the row has more than {max} cells").format(max=MAX_COLUMNS))
    return make(number, cells, columns, out)
