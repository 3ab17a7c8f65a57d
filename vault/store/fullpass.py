"""The thorough pass behind `audit verify` and `doctor`: a whole log in the folder verified
from seq 0 and compared with this machine's mirror, its sync-conflict copies read against
the mirror (copies.py). The everyday path (arrivals.py) verifies only what is new.
"""

from __future__ import annotations

from .. import fsutil, labels
from ..errors import IntegrityError
from ..events import Event
from ..i18n import _
from ..identity import Card
from .copies import MAX_COPIES, bad_copy, behind_its_copy, fork, read_copy, too_many
from .folder import VaultFolder
from .mirror import Mirror, split_complete
from .problems import Kind, Problem
from .verify import verified


def verify_folder_log(
    folder: VaultFolder,
    mirror: Mirror,
    vault_id: str,
    log: str,
    card: Card,
    problems: list[Problem],
) -> list[Event]:
    """Every valid event of `log`'s file in the folder; problems for damage, forks, copies
    that are not the log, lag behind a copy, and disagreement with the mirror."""
    path = folder.log_path(log)
    try:
        data = fsutil.read_bytes(path, labels.MAX_LOG)
    except FileNotFoundError:
        data = b""
    except IntegrityError as exc:
        problems.append(Problem(Kind.UNREADABLE, exc.message, log))
        return []
    lines, torn = split_complete(data)
    if torn:
        problems.append(
            Problem(Kind.TORN, _("the log's last line is incomplete"), log, len(lines), fatal=False)
        )
    events = list(
        verified(lines, vault_id=vault_id, log=log, card=card, problems=problems, source=path.name)
    )
    mirrored = mirror.lines(log)
    known = mirror.hashes(log, mirrored)  # once: the copies are read against them too
    covered = _read_copies(folder, mirrored, known, vault_id, log, card, problems)
    if len(events) < len(known) <= covered and _agrees(events, known):
        problems.append(
            Problem(
                Kind.BEHIND,
                behind_its_copy(),
                log,
                len(events),
                fatal=False,
            )
        )
        # what the audit checks against is the whole history the copies hold with the
        # main file: this machine's verified mirror of it
        events = list(
            verified(mirrored, vault_id=vault_id, log=log, card=card, problems=[], source=None)
        )
    else:
        _compare_with_mirror(known, log, events, problems)
    return events


def _read_copies(
    folder: VaultFolder,
    mirrored: list[bytes],
    hashes: list[str],
    vault_id: str,
    log: str,
    card: Card,
    problems: list[Problem],
) -> int:
    """Report forks and unusable copies of `log` (read against the mirror's lines and
    their hashes); returns how many events the copies together show in agreement with
    the mirror."""
    copies = folder.sources()[0].get(log, [])
    if len(copies) > MAX_COPIES:
        problems.append(too_many(log, copies))
    covered = 0
    for copy in copies[:MAX_COPIES]:
        try:
            reading = read_copy(copy, mirrored, hashes, vault_id=vault_id, log=log, card=card)
        except (OSError, IntegrityError):
            continue
        if reading.fork_at is not None:
            problems.append(fork(copy, log, reading.fork_at))
            continue
        if reading.stale or reading.bad_at is not None:
            problems.append(bad_copy(copy, log, reading))
        covered = max(covered, reading.same + len(reading.new))
    return covered


def _agrees(events: list[Event], known: list[str]) -> bool:
    return all(e.hash == known[i] for i, e in enumerate(events[: len(known)]))


def _compare_with_mirror(
    known: list[str], log: str, events: list[Event], problems: list[Problem]
) -> None:
    for seq, digest in enumerate(known):
        if seq >= len(events):
            problems.append(
                Problem(
                    Kind.ROLLBACK,
                    _("the folder's log is shorter than what this machine accepted"),
                    log,
                    seq,
                )
            )
            return
        if events[seq].hash != digest:
            problems.append(
                Problem(
                    Kind.REWRITTEN,
                    _("an event differs from the one this machine accepted"),
                    log,
                    seq,
                )
            )
            return
