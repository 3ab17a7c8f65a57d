"""Strict encodings: base64url without padding, JSON with no duplicates, NaN or huge numbers.

Every decoder here rejects what it would not itself produce, so a re-encoded
(non-canonical) copy of a signed value is caught instead of accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from .errors import Malformed
from .i18n import _

TYPE_CHECKING = False  # (the thin client imports this module: `typing` is not on its way)
if TYPE_CHECKING:
    from typing import Any


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
MAX_INT = 2**53


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: object, what: str = "value") -> bytes:
    """Decode canonical unpadded base64url or raise Malformed."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise Malformed(_("{what} is not base64url").format(what=what))
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Malformed(_("{what} is not base64url").format(what=what)) from exc
    if b64e(data) != text:
        raise Malformed(_("{what} is not canonical base64url").format(what=what))
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(value: Any) -> Any:
    if isinstance(value, str) and _SURROGATE.search(value):
        raise Malformed(_("JSON text holds a lone surrogate (not valid Unicode)"))
    if isinstance(value, list):
        for element in value:
            _check_text(element)
    return value


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise Malformed(_("duplicate JSON key"))
    return out


def _no_dupes_checked(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    for key, value in pairs:
        _check_text(key)
        _check_text(value)
    return _no_dupes(pairs)


# Decoded UTF-8 cannot hold a surrogate: only a \uD800-\uDFFF escape can make one, so the
# (slow) per-string check runs only when the text has such an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise Malformed(_("JSON constant {name} is not allowed").format(name=name))


def _bounded_int(text: str) -> int:
    if len(text) > 17:
        raise Malformed(_("JSON integer is too large"))
    value = int(text)
    if abs(value) > MAX_INT:
        raise Malformed(_("JSON integer is too large"))
    return value


def loads(data: bytes | str, what: str = "JSON") -> Any:
    """Parse strict JSON: UTF-8, no BOM, no duplicate keys, no NaN/Infinity, bounded ints."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            raise Malformed(_("{what} starts with a byte-order mark").format(what=what))
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(_("{what} is not UTF-8").format(what=what)) from exc
    check = _SURROGATE_ESCAPE.search(data) is not None
    try:
        value = json.loads(
            data,
            object_pairs_hook=_no_dupes_checked if check else _no_dupes,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
            parse_float=_no_float,
        )
        return _check_text(value) if check else value
    except Malformed:
        raise
    except (ValueError, RecursionError) as exc:
        raise Malformed(_("{what} is not valid JSON").format(what=what)) from exc


def _no_float(text: str) -> float:
    raise Malformed(_("JSON floats are not used in takusu formats"))


def dumps(obj: Any) -> bytes:
    """The one JSON serialisation takusu writes: compact, sorted keys, UTF-8."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)
