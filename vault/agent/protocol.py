"""The agent's wire protocol: one request and one reply per connection.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (written by
`vault.encoding.dumps`, read by the strict `vault.encoding.loads`: no floats, no
duplicate keys). Frames above MAX_FRAME are refused.

    request  {"v": PROTOCOL, "op": "get", "args": {...}}
    reply    {"v": PROTOCOL, "ok": true, "result": ...}
          or {"v": PROTOCOL, "ok": false,
              "error": {"type": "NotFound", "message": "...", "hint": null, "exit_code": 1}}

A request whose "v" the agent does not speak is answered, by every version, with an error
of type VERSION_MISMATCH (the reply's "v" says what the agent speaks), so a newer client
recognises an older agent and replaces it.
"""

from __future__ import annotations

from ..errors import EXIT_USER, Malformed, TakusuError
from ..i18n import _
from .errors import AgentError

TYPE_CHECKING = False  # (the thin client imports this module: no `typing`, no `socket` here)
if TYPE_CHECKING:
    import _socket
    from typing import Any


PROTOCOL = 1
MAX_FRAME = 1 << 20
VERSION_MISMATCH = "VersionMismatch"
_HEADER_SIZE = 4  # a big-endian unsigned length, then that many bytes of JSON (no `struct`)


class ProtocolError(AgentError):
    """A frame that is too large, truncated, or not the JSON the protocol defines."""


class Closed(AgentError):
    """The other side closed the connection before a whole frame arrived."""


FDS_MARK = b"F"  # the one byte that carries passed file descriptors (SCM_RIGHTS)
FD_OPS = frozenset({"cli"})  # ops whose request is followed by the caller's stdin/out/err


# The agent reads and writes frames with vault.encoding (its strict decoder); the thin
# client with lightjson (the same bytes, without importing `json` and `re`): `light=True`.


def encode(obj: Any, *, light: bool = False) -> bytes:
    """One frame: the length header and the canonical JSON of `obj`; ProtocolError if too big."""
    if light:
        from .lightjson import dumps
    else:
        from ..encoding import dumps
    body = dumps(obj)
    if len(body) > MAX_FRAME:
        raise ProtocolError(
            _("the message is too large ({size} bytes, at most {limit})").format(
                size=len(body), limit=MAX_FRAME
            )
        )
    return len(body).to_bytes(_HEADER_SIZE, "big") + body


def send(sock: _socket.socket, obj: Any, *, light: bool = False) -> None:
    sock.sendall(encode(obj, light=light))


def _recv_exactly(sock: _socket.socket, count: int) -> bytes:
    chunks, remaining = [], count
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 16))
        if not chunk:
            raise Closed(_("the connection closed in the middle of a message"))
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(sock: _socket.socket, *, light: bool = False) -> Any:
    """The next frame's JSON value. Closed on EOF, ProtocolError if too large or malformed."""
    length = int.from_bytes(_recv_exactly(sock, _HEADER_SIZE), "big")
    if length > MAX_FRAME:
        raise ProtocolError(
            _("refusing a message of {size} bytes (at most {limit})").format(
                size=length, limit=MAX_FRAME
            )
        )
    body = _recv_exactly(sock, length)
    if light:
        from .lightjson import loads as light_loads

        try:
            return light_loads(body)
        except (ValueError, RecursionError):
            raise ProtocolError(_("the agent's message is not valid JSON")) from None
    from ..encoding import loads

    try:
        return loads(body, "agent message")
    except Malformed as exc:
        raise ProtocolError(exc.message) from None


def request(op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": PROTOCOL, "op": op, "args": dict(args or {})}


def ok(result: Any) -> dict[str, Any]:
    return {"v": PROTOCOL, "ok": True, "result": result}


def error(
    kind: str, message: str, hint: str | None = None, exit_code: int = EXIT_USER
) -> dict[str, Any]:
    return {
        "v": PROTOCOL,
        "ok": False,
        "error": {"type": kind, "message": message, "hint": hint, "exit_code": exit_code},
    }


def error_from(exc: TakusuError) -> dict[str, Any]:
    """The error reply that carries `exc`'s class name, message, hint and exit code."""
    return error(type(exc).__name__, exc.message, exc.hint, int(exc.exit_code))


def version_mismatch(theirs: object) -> dict[str, Any]:
    return error(
        VERSION_MISMATCH,
        _("the agent speaks protocol {ours}, the request protocol {theirs}").format(
            ours=PROTOCOL, theirs=repr(theirs)
        ),
        _("run 'takusu unlock' again: it replaces the old agent"),
    )


def jsonable(value: Any, depth: int = 0) -> bool:
    """True if `value` survives the strict decoder: None, bool, bounded int, str, list, dict
    with str keys (no floats, bytes, tuples or sets). A result the client could not read is
    refused before it is sent, so the handler author sees why."""
    if depth > 64:
        return False
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        from ..encoding import MAX_INT

        return abs(value) <= MAX_INT
    if isinstance(value, list):
        return all(jsonable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and jsonable(v, depth + 1) for k, v in value.items())
    return False
