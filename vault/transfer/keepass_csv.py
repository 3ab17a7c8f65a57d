"""Format `keepassxc-csv`: KeePassXC's CSV export (Database > Export > CSV File, or
`keepassxc-cli export -f csv`).

Columns `Group,Title,Username,Password,URL,Notes,TOTP,Icon,Last Modified,Created`, all
quoted. `Group` is the path from the root group, whose name comes first ('Root' in
the app, 'Passwords' from keepassxc-cli, anything the user chose): 'Root/Banking'
becomes the tag 'Banking', and an entry of the root group itself has no tag. Entries
in the recycle bin are skipped. `TOTP` is an otpauth:// URI. Icon and dates are not
kept; any other column becomes a custom field.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..i18n import _
from .collect import Collector, Entry, Table, read_table, row_entry, row_place
from .common import Columns, group_tag
from .record import ReadOptions, ReadResult

ALIASES = {
    "group": "group",
    "title": "title",
    "username": "username",
    "password": "password",
    "url": "url",
    "notes": "notes",
    "totp": "totp",
}
TABLE = Table(
    "KeePassXC CSV",
    '"Group","Title","Username","Password","URL","Notes","TOTP",…',
    ALIASES,
    ("group", "title", "username", "password"),
    frozenset({"icon", "lastmodified", "created", "passwordstrength", "expires"}),
)
# The recycle bin's name as KeePassXC creates it, in English and in Japanese.
RECYCLE_BINS = {"recycle bin", "ごみ箱", "ゴミ箱"}


def group_path(group: str) -> list[str]:
    """The group's path below the root group ('Root/Banking/Sub' -> ['Banking', 'Sub'])."""
    return [part for part in group.split("/")[1:] if part.strip()]


def _row(number: int, cells: list[str], columns: Columns, out: Collector) -> Entry | None:
    path = group_path(columns.get(cells, "group"))
    if path and path[0].strip().casefold() in RECYCLE_BINS:
        out.skip(row_place(number), _("in the recycle bin"))
        return None
    entry = row_entry(number, cells, columns)
    entry.tags = group_tag(path)
    return entry


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """A KeePassXC CSV export as records."""
    if fmt != "keepassxc-csv":
        raise UsageError(
            _("the KeePassXC CSV reader does not read {format}").format(format=repr(fmt))
        )
    return read_table(path, fmt, options, TABLE, _row)
