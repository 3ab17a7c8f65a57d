"""The thorough pass behind `audit verify` and `doctor`: a whole log in the folder verified
from seq 0 (its sync-conflict copies merged by hash) and compared with this machine's
mirror. The everyday path (arrivals.py) verifies only what is new.
"""

from __future__ import annotations

from .. import fsutil, labels
from ..errors import IntegrityError
from ..events import Event
from ..identity import Card
from .folder import VaultFolder
from .mirror import Mirror, split_complete
from .problems import Kind, Problem
from .verify import verified_from_start


def verify_folder_log(
    folder: VaultFolder,
    mirror: Mirror,
    vault_id: str,
    log: str,
    card: Card,
    problems: list[Problem],
) -> list[Event]:
    """Every valid event of `log` in the folder (the longest valid branch of its file and
    copies); problems for damage, forks, lag behind a copy, and disagreement with the mirror."""
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
            Problem(Kind.TORN, "the log's last line is incomplete", log, len(lines), fatal=False)
        )
    events = verified_from_start(
        lines, vault_id=vault_id, log=log, card=card, problems=problems, source=path.name
    )
    main_length = len(events)
    events = _merge_copies(folder, vault_id, log, card, events, problems)
    if len(events) > main_length:
        problems.append(
            Problem(
                Kind.BEHIND,
                "the log's main file is behind its sync-conflict "
                "copy; 'takusu doctor --repair' puts it back together",
                log,
                main_length,
                fatal=False,
            )
        )
    _compare_with_mirror(mirror, log, events, problems)
    return events


def _merge_copies(
    folder: VaultFolder,
    vault_id: str,
    log: str,
    card: Card,
    events: list[Event],
    problems: list[Problem],
) -> list[Event]:
    for copy in folder.sources()[0].get(log, []):
        try:
            copy_lines = split_complete(fsutil.read_bytes(copy, labels.MAX_LOG))[0]
        except (OSError, IntegrityError):
            continue
        other = verified_from_start(
            copy_lines, vault_id=vault_id, log=log, card=card, problems=problems, source=copy.name
        )
        shared = min(len(events), len(other))
        fork = next((i for i in range(shared) if events[i].hash != other[i].hash), None)
        if fork is not None:
            problems.append(
                Problem(
                    Kind.FORK,
                    f"{copy.name} holds a different valid event at "
                    "the same sequence number: the log has forked",
                    log,
                    fork,
                )
            )
        elif len(other) > len(events):
            events = other
    return events


def _compare_with_mirror(
    mirror: Mirror, log: str, events: list[Event], problems: list[Problem]
) -> None:
    for seq, digest in enumerate(mirror.hashes(log)):
        if seq >= len(events):
            problems.append(
                Problem(
                    Kind.ROLLBACK,
                    "the folder's log is shorter than what this machine accepted",
                    log,
                    seq,
                )
            )
            return
        if events[seq].hash != digest:
            problems.append(
                Problem(
                    Kind.REWRITTEN, "an event differs from the one this machine accepted", log, seq
                )
            )
            return
