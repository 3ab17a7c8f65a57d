"""Sync-conflict copies of a log (Dropbox's `… (conflicted copy …)`, Syncthing's
`.sync-conflict-…`): extra sources for the same writer, and anyone's to plant.

A copy is compared with this machine's verified mirror line by line first: the lines it
shares with the mirror are already verified, so sixty identical copies cost no signature
check at all. Only what follows is verified. A copy's valid new events are merged; a
different valid event at a known place is a fork (its writer signed both: fatal); a copy
that holds nothing new, or whose next line does not verify, is not the log — it is
reported as a warning and never blocks anything (`doctor --repair` moves it aside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import fsutil, labels
from ..events import Event
from ..i18n import _
from ..identity import Card
from .mirror import split_complete
from .problems import Kind, Problem
from .verify import verified

MAX_COPIES = 8  # copies of one log read per command; more are reported, not read


@dataclass
class CopyReading:
    """What one copy holds compared with the mirror (`mirrored`: its verified lines)."""

    same: int  # leading lines equal, byte for byte, to the mirror's
    new: list[Event] = field(default_factory=list)  # verified events after those
    fork_at: int | None = None  # a valid event that differs from the mirror's at this seq
    bad_at: int | None = None  # the first line that does not verify

    @property
    def stale(self) -> bool:
        return not self.new and self.fork_at is None


def read_copy(
    path: Path,
    mirrored: list[bytes],
    mirrored_hashes: list[str],
    *,
    vault_id: str,
    log: str,
    card: Card,
) -> CopyReading:
    """Compare a copy with the mirror and verify only what follows the shared lines.
    Raises OSError / IntegrityError when the file cannot be read."""
    lines, _torn = split_complete(fsutil.read_bytes(path, labels.MAX_LOG))
    same = 0
    while same < min(len(lines), len(mirrored)) and lines[same] == mirrored[same]:
        same += 1
    reading = CopyReading(same)
    rest = lines[same:]
    if not rest:
        return reading
    scratch: list[Problem] = []
    prev = mirrored_hashes[same - 1] if same else None
    for event in verified(
        rest,
        vault_id=vault_id,
        log=log,
        card=card,
        problems=scratch,
        source=path.name,
        start=same,
        prev=prev,
    ):
        if event.seq < len(mirrored):
            reading.fork_at = event.seq  # signed by the writer, yet not what we accepted
            return reading
        reading.new.append(event)
    if scratch:
        reading.bad_at = scratch[0].seq
    return reading


def bad_copy(path: Path, log: str, reading: CopyReading) -> Problem:
    """The warning for a copy that is not the log (nothing new, or a line that fails)."""
    if reading.bad_at is not None:
        message = _(
            "the sync-conflict copy {file} is not used: its line {seq} does not verify; "
            "'takusu doctor --repair' moves it aside"
        ).format(file=path.name, seq=reading.bad_at)
    else:
        message = _(
            "the sync-conflict copy {file} is not used: it holds nothing this machine has "
            "not already verified; 'takusu doctor --repair' moves it aside"
        ).format(file=path.name)
    return Problem(
        Kind.BAD_COPY,
        message,
        log,
        reading.bad_at,
        fatal=False,
    )


def fork(path: Path, log: str, seq: int) -> Problem:
    return Problem(
        Kind.FORK,
        _(
            "{file} holds a different valid event at the same sequence number: the log has forked"
        ).format(file=path.name),
        log,
        seq,
    )


def too_many(log: str, copies: list[Path]) -> Problem:
    return Problem(
        Kind.COPIES,
        _(
            "{count} sync-conflict copies of this log are in the folder; only {read} were "
            "read. 'takusu doctor --repair' moves the ones that add nothing aside"
        ).format(count=len(copies), read=MAX_COPIES),
        log,
        fatal=False,
    )


def behind_its_copy() -> str:
    """The message for a log's main file that lags behind its sync-conflict copy."""
    return _(
        "the log's main file is behind its sync-conflict copy; "
        "'takusu doctor --repair' puts it back together"
    )
