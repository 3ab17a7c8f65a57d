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
from ..i18n import _
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
    source: str | None,
    start: int = 0,
    prev: str | None = None,
) -> Iterator[Event]:
    """Verify `lines` as events `start`, `start`+1, … of `log` after `prev`, yielding each;
    at the first bad line, record the problem (named after `source`: a file name, or None for
    this machine's verified mirror) and stop."""
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
                problems.append(Problem(Kind.GIT_CONFLICT, _git_markers(source), log, seq))
            else:
                problems.append(Problem(Kind.TAMPERED, found_in(exc.reason, source), log, seq))
            return
        yield event
        prev = event.hash


def found_in(reason: str, source: str | None) -> str:
    """`reason` (in the reader's language) as found in `source`: a file name, or None for
    this machine's verified mirror."""
    if source is None:
        return _("{reason} in this machine's verified copy").format(reason=reason)
    return _("{reason} in {file}").format(reason=reason, file=source)


def _git_markers(source: str | None) -> str:
    if source is None:
        return _("git conflict markers in this machine's verified copy")
    return _("git conflict markers in {file}").format(file=source)
