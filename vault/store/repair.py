"""`doctor --repair`: put damaged, missing or shortened logs back from the verified mirror.

Repair only ever copies verified bytes from this machine's mirror into the folder, never
the other way round, and never overwrites a log that holds a different *valid* branch by
its own writer (a fork): that is a decision for its writer, not for repair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import fsutil, labels
from ..errors import IntegrityError
from ..identity import Card
from ..state import State
from .copies import read_copy
from .folder import VaultFolder
from .mirror import Mirror, split_complete
from .verify import verified


@dataclass
class Repaired:
    """What a repair did: logs restored from the mirror, forks it left alone, and
    sync-conflict copies it moved into this machine's quarantine."""

    fixed: list[str] = field(default_factory=list)
    forks_kept: list[str] = field(default_factory=list)
    copies_moved: list[str] = field(default_factory=list)


def repair_logs(
    folder: VaultFolder, mirror: Mirror, vault_id: str, owner_card: Card, st: State
) -> Repaired:
    """Rewrite every folder log that is damaged, missing or shorter than its mirror.
    The caller holds the vault's lock and passes the state it just loaded."""
    done = Repaired()
    for log in st["heads"]:
        mirrored = mirror.read(log)
        path = folder.log_path(log)
        current: bytes | None
        try:
            current = folder.read_log(log)
        except IntegrityError:
            current = None  # a symlink or a non-file: replace it
            if path.is_symlink() or path.is_file():
                path.unlink()
        if current == mirrored or (current is not None and current.startswith(mirrored)):
            continue  # intact, or only newer events: not damage
        card = owner_card if log == owner_card.id else _member_card(st, log)
        if current and card and _is_other_branch(mirror, vault_id, log, card, current):
            done.forks_kept.append(log)
            continue
        fsutil.ensure_dir(folder.logs, mirror.disk)
        fsutil.atomic_write(path, mirrored, mirror.disk)
        done.fixed.append(log)
    _move_copies_aside(folder, mirror, vault_id, owner_card, st, done)
    return done


def _move_copies_aside(
    folder: VaultFolder,
    mirror: Mirror,
    vault_id: str,
    owner_card: Card,
    st: State,
    done: Repaired,
) -> None:
    """Sync-conflict copies that are not the log (nothing new, or a line that does not
    verify) go into this machine's quarantine; a copy that is a fork stays where it is."""
    for log, copies in folder.sources()[0].items():
        card = owner_card if log == owner_card.id else _member_card(st, log)
        if card is None or log not in st["heads"]:
            continue
        mirrored, hashes = mirror.lines(log), mirror.hashes(log)
        for copy in copies:
            try:
                data = fsutil.read_bytes(copy, labels.MAX_LOG)
                reading = read_copy(copy, mirrored, hashes, vault_id=vault_id, log=log, card=card)
            except (OSError, IntegrityError):
                continue
            if reading.fork_at is None and not reading.new:
                mirror.quarantine(copy.name, data)
                copy.unlink()
                done.copies_moved.append(copy.name)


def _member_card(st: State, log: str) -> Card | None:
    member = st["members"].get(log)
    return Card.from_envelope(member["card"]) if member else None


def _is_other_branch(mirror: Mirror, vault_id: str, log: str, card: Card, data: bytes) -> bool:
    """True when `data` is a valid chain by the log's writer that diverges from the mirror."""
    lines, _ = split_complete(data)
    events = list(
        verified(lines, vault_id=vault_id, log=log, card=card, problems=[], source="folder")
    )
    if len(events) != len(lines):
        return False  # damaged somewhere: repair it
    known = mirror.hashes(log)
    return any(e.hash != known[i] for i, e in enumerate(events[: len(known)]))
