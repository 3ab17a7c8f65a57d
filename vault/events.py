"""Signed, hash-chained event lines: build one, or verify one and return what it says.

A line is `{"v":1,"p":"<b64url payload>","s":"<b64url sig>"}` followed by a newline,
with exactly that key order and no spaces. The signature is Ed25519 over
`takusu/event/v1\\n + payload bytes`; the payload is parsed only after it verifies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import crypto, labels
from .encoding import b64d, b64e, dumps, loads
from .errors import BadSignature, BrokenChain, IntegrityError, Malformed, UnknownVersion
from .i18n import _
from .identity import Identity

OWNER_TYPES = frozenset(
    {
        "vault.create",
        "member.add",
        "member.remove",
        "item.put",
        "item.delete",
        "grant",
        "revoke",
        "rollback.accept",
        "view",
        "codes",
        "policy",
        "request.deny",
        "import",
        "export",
    }
)
MEMBER_TYPES = frozenset({"retrieve", "request"})
BASE_FIELDS = ("vault", "actor", "seq", "prev", "at", "type")


@dataclass(frozen=True)
class Event:
    """A verified event: the payload as signed, its parsed fields and its hash."""

    payload_bytes: bytes
    fields: dict[str, Any] = field(compare=False)
    line: bytes = field(compare=False)
    # [offset, length] of the line in this machine's mirror of the log, once mirrored
    ref: list[int] | None = field(default=None, compare=False)

    @property
    def hash(self) -> str:
        return crypto.sha256_hex(self.payload_bytes)

    @property
    def seq(self) -> int:
        return int(self.fields["seq"])

    @property
    def type(self) -> str:
        return str(self.fields["type"])

    @property
    def actor(self) -> str:
        return str(self.fields["actor"])

    @property
    def at(self) -> str:
        return str(self.fields["at"])


def encode_line(payload_bytes: bytes, sig: bytes) -> bytes:
    return f'{{"v":1,"p":"{b64e(payload_bytes)}","s":"{b64e(sig)}"}}\n'.encode()


def make_event(
    identity: Identity,
    vault_id: str,
    seq: int,
    prev: str | None,
    at: str,
    type_: str,
    body: dict[str, Any],
) -> Event:
    """Sign a new event; `body` holds the type's own fields."""
    overlap = set(body) & set(BASE_FIELDS)
    if overlap:
        raise ValueError(f"event body may not set {sorted(overlap)}")
    payload = {
        "vault": vault_id,
        "actor": identity.id,
        "seq": seq,
        "prev": prev,
        "at": at,
        "type": type_,
        **body,
    }
    payload_bytes = dumps(payload)
    sig = identity.signing.sign(labels.EVENT_SIG, payload_bytes)
    return Event(payload_bytes, payload, encode_line(payload_bytes, sig))


def split_line(line: bytes, log: str, seq: int) -> tuple[bytes, bytes]:
    """Decode the envelope of one line (without its newline): (payload bytes, signature)."""
    if len(line) > labels.MAX_LINE:
        raise Malformed(_("event line is too long"), log=log, seq=seq)
    try:
        env = loads(line, "event line")
    except Malformed as exc:
        raise Malformed(exc.message, log=log, seq=seq) from None
    if not isinstance(env, dict) or set(env) != {"v", "p", "s"}:
        raise Malformed(_("event line has the wrong fields"), log=log, seq=seq)
    if not labels.is_current(env["v"]):
        raise UnknownVersion(
            _("event line has unknown version {version}").format(version=repr(env["v"])[:40]),
            log=log,
            seq=seq,
        )
    try:
        payload, sig = b64d(env["p"], "payload"), b64d(env["s"], "signature")
    except Malformed as exc:
        raise Malformed(exc.message, log=log, seq=seq) from None
    if encode_line(payload, sig) != line + b"\n":
        raise Malformed(_("event line is not in canonical form"), log=log, seq=seq)
    return payload, sig


def verify_line(
    line: bytes,
    *,
    sign_key: bytes,
    vault_id: str,
    actor: str,
    seq: int,
    prev: str | None,
    log: str,
) -> Event:
    """Verify one line as event number `seq` of `actor`'s log, chained to `prev`."""
    payload_bytes, sig = split_line(line, log, seq)
    try:
        crypto.verify(sign_key, labels.EVENT_SIG, payload_bytes, sig)
    except IntegrityError:
        raise BadSignature(_("event signature does not verify"), log=log, seq=seq) from None
    try:
        fields = loads(payload_bytes, "event payload")
    except Malformed as exc:
        raise Malformed(exc.message, log=log, seq=seq) from None
    if not isinstance(fields, dict) or any(k not in fields for k in BASE_FIELDS):
        raise Malformed(_("event payload lacks required fields"), log=log, seq=seq)
    if fields["vault"] != vault_id:
        raise BrokenChain(_("event belongs to another vault"), log=log, seq=seq)
    if fields["actor"] != actor:
        raise BrokenChain(
            _("event was written by someone else (cross-log replay)"), log=log, seq=seq
        )
    if type(fields["seq"]) is not int or fields["seq"] != seq:
        raise BrokenChain(
            _("event has sequence number {found}, expected {expected}").format(
                found=repr(fields["seq"])[:40], expected=seq
            ),
            log=log,
            seq=seq,
        )
    if fields["prev"] != prev:
        raise BrokenChain(_("event does not link to the previous one"), log=log, seq=seq)
    if not isinstance(fields["type"], str) or not isinstance(fields["at"], str):
        raise Malformed(_("event type or time is malformed"), log=log, seq=seq)
    return Event(payload_bytes, fields, line + b"\n")


def verify_lines(
    lines: list[bytes],
    *,
    sign_key: bytes,
    vault_id: str,
    actor: str,
    log: str,
    start_seq: int = 0,
    prev: str | None = None,
) -> list[Event]:
    """Verify consecutive lines starting at `start_seq` after `prev`; raise at the first bad one."""
    out = []
    for offset, line in enumerate(lines):
        event = verify_line(
            line,
            sign_key=sign_key,
            vault_id=vault_id,
            actor=actor,
            seq=start_seq + offset,
            prev=prev,
            log=log,
        )
        out.append(event)
        prev = event.hash
    return out
