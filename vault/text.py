"""Text from people: checked where it is created, escaped wherever it is shown.

Names, titles and reasons come from other people (a member signs some of them) and from
files anyone can write, so they are hostile: a terminal control sequence in a title could
clear the screen, rewrite a line or set the clipboard. `escape` is the one function every
foreign string passes on its way to a terminal; `checked` refuses such characters where
text is created, so an honest takusu never writes them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from .errors import BadInput
from .i18n import _

# Control (C0, C1, DEL), format (bidi overrides and isolates, zero-width), surrogate,
# private-use and unassigned code points, and the Unicode line and paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unsafe(ch: str) -> bool:
    """True for a character that must not reach a terminal as it is."""
    return unicodedata.category(ch) in _UNSAFE


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str) -> str:
    """`text` with every unsafe character shown as an escape (`\\x1b`, `\\u202e`); all
    other text, Japanese included, unchanged."""
    if text.isprintable() and text.isascii():
        return text
    return "".join(_visible(ch) if unsafe(ch) else ch for ch in text)


def json_text(obj: Any) -> str:
    """Indented JSON with every unsafe character written as a \\u escape (json.dumps leaves
    C1 controls, DEL and bidi overrides raw), so the output is safe for a terminal."""
    raw = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)
    # json.dumps writes newlines only between values (inside strings they are "\n"), and
    # escapes the other C0 controls itself: only DEL and non-ASCII characters need a look
    return _MAYBE_UNSAFE.sub(_json_escape, raw)


_MAYBE_UNSAFE = re.compile("[^\x20-\x7e\n]")


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if not unsafe(ch):
        return ch
    data = ch.encode("utf-16-be", "surrogatepass")
    return "".join(
        f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2)
    )


def checked(value: str, what: str, *, max_len: int, newlines: bool = False) -> str:
    """`value` in NFC, or BadInput naming the position of the first control or format
    character (newlines allowed only where `newlines`) or saying it is too long/empty."""
    value = unicodedata.normalize("NFC", value)
    for position, ch in enumerate(value, start=1):
        if unsafe(ch) and not (newlines and ch in "\n\t"):
            raise BadInput(
                _("{what} holds a control character ({char}) at position {position}").format(
                    what=what, char=_visible(ch), position=position
                ),
                hint=_("type it again without special characters"),
            )
    if not value.strip():
        raise BadInput(_("{what} is empty").format(what=what))
    if len(value) > max_len:
        raise BadInput(
            _("{what} is longer than {count} characters").format(what=what, count=f"{max_len:,}")
        )
    return value


def width(text: str) -> int:
    """How many terminal columns `text` takes: East Asian wide and full-width characters
    count two, combining marks none."""
    if text.isascii():  # the common case, and a column of 10,000 rows: one column each
        return len(text)
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def pad(text: str, columns: int) -> str:
    """`text` followed by spaces up to `columns` display columns."""
    return text + " " * max(0, columns - width(text))
