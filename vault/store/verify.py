"""The one line-by-line verifier every path uses: the incremental load, sync-conflict copies,
the full pass of `audit verify` and `doctor`, and repair's fork check.

It verifies consecutive lines of one writer's log (signature first, then vault, writer,
sequence number and hash link), yields each verified event, and at the first bad line
records a `Problem` with its place and stops: nothing after a bad line is trusted.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import IntegrityError
from ..events import Event, verify_line
from ..identity import Card
from .problems import Kind, Problem

_GIT_MARKERS = (b"<<<<<<<", b"=======", b">>>>>>>")


def verified(
    lines: list[bytes],
    *,
    vault_id: str,
    log: str,
    card: Card,
    problems: list[Problem],
    source: str,
    start: int = 0,
    prev: str | None = None,
) -> Iterator[Event]:
    """Verify `lines` as events `start`, `start`+1, … of `log` after `prev`, yielding each;
    at the first bad line, record the problem (named after `source`) and stop."""
    for offset, line in enumerate(lines):
        seq = start + offset
        try:
            event = verify_line(
                line,
                sign_key=card.sign_key,
                vault_id=vault_id,
                actor=log,
                seq=seq,
                prev=prev,
                log=log,
            )
        except IntegrityError as exc:
            if line.startswith(_GIT_MARKERS):
                problems.append(
                    Problem(Kind.GIT_CONFLICT, f"git conflict markers in {source}", log, seq)
                )
            else:
                problems.append(Problem(Kind.TAMPERED, f"{exc.reason} in {source}", log, seq))
            return
        yield event
        prev = event.hash
