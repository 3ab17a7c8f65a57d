"""Moving in and out: read credentials exported by other tools, write what others open.

Each reader turns one file (or a pass store folder) into `Record`s in takusu's item
shape, with the place each came from; nothing here touches a vault. The registry below
maps a format name to the module that reads it, loaded only when that format is used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import UsageError
from ..i18n import _
from .record import ReadOptions, ReadResult

# format name -> module (relative to this package) that reads it; see each module's docstring
READERS = {
    "csv": "spreadsheet",  # a spreadsheet saved as CSV (UTF-8 or CP932; ja/en headers)
    "chrome": "browsers",  # Chrome / Edge password export
    "firefox": "browsers",
    "safari": "browsers",
    "bitwarden-json": "bitwarden",
    "bitwarden-csv": "bitwarden",
    "1pux": "onepassword",
    "1password-csv": "onepassword",
    "keepassxc-csv": "keepass_csv",
    "keepass-xml": "keepass",
    "kdbx": "keepass",
    "pass": "passstore",
}


def read_source(path: Path, fmt: str | None, options: ReadOptions) -> ReadResult:
    """Read `path` as format `fmt` (detected from the content when None)."""
    if fmt is None:
        from .detect import detect

        fmt = detect(path)
    if fmt not in READERS:
        raise UsageError(
            _("unknown import format {format}; known: {known}").format(
                format=repr(fmt), known=", ".join(sorted(READERS))
            )
        )
    module = importlib.import_module(f"{__name__}.{READERS[fmt]}")
    result: ReadResult = module.read(path, fmt, options)
    return result
