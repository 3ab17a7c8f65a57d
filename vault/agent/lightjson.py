"""JSON for the thin client, without the `json` package.

`import json` loads `re` (and with it `enum`): on a slow machine that is a quarter of a
command the agent answers. CPython's own C implementation of JSON, `_json` (what `json`
runs underneath), needs none of it; this module drives it directly, the way
`json.encoder` and `json.decoder` do, and falls back to the `json` package where there is
no `_json` (another Python). `tests/test_agent.py` checks that both write the bytes
`vault.encoding.dumps` writes and read them back.

Only the thin client uses it, for its own request and the agent's reply (an agent of its
own user, checked with SO_PEERCRED). The agent reads every request with the strict
decoder of `vault.encoding`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - every CPython has it
    _json = None  # type: ignore[assignment]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _not_jsonable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Context:
    """What `_json.make_scanner` reads from a `json.JSONDecoder`."""

    strict = True  # no raw control characters inside strings
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)  # NaN, Infinity: refused


_scan: Callable[[str, int], tuple[Any, int]] | None = None
_encode: Callable[[Any, int], Any] | None = None
if _json is not None:
    _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # (typeshed: a JSONDecoder)
    # as json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False) makes it:
    # (markers, default, encoder, indent, key separator, item separator, sort_keys,
    # skipkeys, allow_nan)
    _encode = _json.make_encoder(
        None, _not_jsonable, _json.encode_basestring, None, ":", ",", True, False, False
    )


def dumps(obj: Any) -> bytes:
    """The bytes `vault.encoding.dumps` writes for `obj`: compact, sorted keys, UTF-8."""
    if _encode is None:
        from ..encoding import dumps as strict_dumps

        return strict_dumps(obj)
    return "".join(_encode(obj, 0)).encode()


def loads(data: bytes) -> Any:
    """One JSON value from UTF-8 `data`; ValueError if it is not exactly one."""
    text = data.decode("utf-8")
    if _scan is None:
        import json

        return json.loads(text)
    text = text.strip(" \t\n\r")
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(text):
        raise ValueError("more than one JSON value")
    return value
