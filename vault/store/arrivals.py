"""Read what arrived in the folder since this machine's heads, verify it, and take it in.

Each log is read from the accepted head only: the folder's copy must not have shrunk and
its last accepted line must be unchanged; the new complete lines are verified by the one
verifier (verify.py), folded into the state and appended to the mirror. Sync-conflict
copies are extra sources for the same writer: their valid events are merged by hash, and
a different valid event at a known sequence number is a fork.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from .. import fsutil, labels, state
from ..errors import IntegrityError
from ..events import Event
from ..i18n import _
from ..identity import Card
from ..state import Head, State
from .copies import MAX_COPIES, bad_copy, behind_its_copy, fork, read_copy, too_many
from .folder import VaultFolder
from .mirror import Mirror, split_complete
from .problems import Kind, Problem
from .verify import found_in, verified


class Arrivals:
    """Takes new events of one vault's logs into this machine's state and mirror."""

    def __init__(self, folder: VaultFolder, mirror: Mirror, vault_id: str, owner: str) -> None:
        self.folder = folder
        self.mirror = mirror
        self.vault_id = vault_id
        self.owner = owner

    def rebuild(self, owner_card: Card, problems: list[Problem]) -> State:
        """The state re-verified from this machine's mirror alone (the cache is derived)."""
        st = state.empty()
        lines = self.mirror.lines(self.owner)
        self.accept(st, self.owner, owner_card, lines, problems, None, to_mirror=False)
        for path in sorted(self.mirror.logs.glob("*.jsonl")):
            member = st["members"].get(path.stem)
            if member is not None:
                card = Card.from_envelope(member["card"])
                lines = self.mirror.lines(path.stem)
                self.accept(st, path.stem, card, lines, problems, None, to_mirror=False)
        return st

    def ingest(
        self, st: State, log: str, card: Card, copies: list[Path], problems: list[Problem]
    ) -> bool:
        """Take in the new events of `log` from its file and its conflict copies."""
        before = len(problems)
        lines = self._read_new(log, st["heads"].get(log), problems)
        changed = self.accept(st, log, card, lines, problems, f"{log}.jsonl")
        if len(copies) > MAX_COPIES:
            problems.append(too_many(log, copies))
        covered = -1
        for copy in copies[:MAX_COPIES]:
            took, seq = self._merge_copy(st, log, card, copy, problems)
            changed |= took
            covered = max(covered, seq)
        head = _seq(st["heads"].get(log))
        for problem in problems[before:]:
            if problem.kind in (Kind.ROLLBACK, Kind.MISSING) and copies and covered >= head:
                problem.kind, problem.fatal = Kind.BEHIND, False
                problem.message = behind_its_copy()
        return changed

    def accept(
        self,
        st: State,
        log: str,
        card: Card,
        lines: list[bytes],
        problems: list[Problem],
        source: str | None,
        to_mirror: bool = True,
    ) -> bool:
        """Verify lines that follow the head, apply them, mirror them. True if any were taken.
        `source` names the file they come from (None: this machine's mirror)."""
        head = st["heads"].get(log)
        size = head["size"] if head else 0
        position = size
        accepted: list[Event] = []
        events = verified(
            lines,
            vault_id=self.vault_id,
            log=log,
            card=card,
            problems=problems,
            source=source,
            start=_seq(head) + 1,
            prev=head["hash"] if head else None,
        )
        for event in events:
            event = replace(event, ref=[position, len(event.line)])
            # `st` may be the memo's: it changes now (its items, if this is the owner's; its
            # retrievals, if a member's)
            owners = log == self.owner
            self.mirror.forget_state(
                items=state.items_touched(event) if owners else (), retrievals=not owners
            )
            try:
                if owners:
                    state.apply_owner(st, event)
                else:
                    state.apply_member(st, event)
                    _check_witness(st, event, problems)
            except IntegrityError as exc:
                problems.append(
                    Problem(Kind.TAMPERED, found_in(exc.reason, source), log, event.seq)
                )
                break
            accepted.append(event)
            position += len(event.line)
        if not accepted:
            return False
        blob = b"".join(e.line for e in accepted)
        if to_mirror:
            self.mirror.append(log, blob, at=size)
        st["heads"][log] = {
            "seq": accepted[-1].seq,
            "hash": accepted[-1].hash,
            "size": size + len(blob),
            "last": len(accepted[-1].line),
        }
        return True

    def _read_new(self, log: str, head: Head | None, problems: list[Problem]) -> list[bytes]:
        """Complete lines after the accepted head in the folder's log; problems on damage."""
        data = self._read_after(log, head, problems)
        if data is None:
            return []
        if head:
            if data[: head["last"]] != self.mirror.last_line(log, head):
                problems.append(
                    Problem(
                        Kind.REWRITTEN,
                        _("log was rewritten: the last event this machine accepted has changed"),
                        log,
                        head["seq"],
                    )
                )
                return []
            data = data[head["last"] :]
        lines, torn = split_complete(data)
        if torn:
            seq = _seq(head) + 1 + len(lines)
            kept = self.mirror.quarantine_once(f"{log}.{seq}.torn", torn)
            problems.append(
                Problem(
                    Kind.TORN,
                    _(
                        "the log's last line is incomplete (an interrupted write); it is "
                        "ignored and a copy kept in {path}"
                    ).format(path=kept),
                    log,
                    seq,
                    fatal=False,
                )
            )
        return lines

    def _read_after(self, log: str, head: Head | None, problems: list[Problem]) -> bytes | None:
        """The folder log's bytes from the start of the last accepted line on, or None (with a
        problem) when it is missing, unreadable, too large or shorter than accepted."""
        path = self.folder.log_path(log)
        size = head["size"] if head else 0
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
        except FileNotFoundError:
            if size:
                problems.append(
                    Problem(
                        Kind.MISSING,
                        _("a log this machine accepted is gone from the folder"),
                        log,
                        _seq(head),
                    )
                )
            return None
        except OSError as exc:
            why = _("log cannot be read ({why})").format(why=exc.strerror)
            problems.append(Problem(Kind.UNREADABLE, why, log))
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                problems.append(Problem(Kind.UNREADABLE, _("log is not a regular file"), log))
                return None
            if info.st_size > labels.MAX_LOG:
                problems.append(Problem(Kind.OVERSIZE, _("log is larger than takusu allows"), log))
                return None
            if info.st_size < size:
                problems.append(
                    Problem(
                        Kind.ROLLBACK,
                        _(
                            "log shrank: events this machine accepted are "
                            "missing (truncated, or an old copy restored)"
                        ),
                        log,
                        _seq(head),
                    )
                )
                return None
            start = size - (head["last"] if head else 0)
            os.lseek(fd, start, os.SEEK_SET)
            return fsutil.read_all(fd, info.st_size - start)
        finally:
            os.close(fd)

    def _merge_copy(
        self, st: State, log: str, card: Card, copy: Path, problems: list[Problem]
    ) -> tuple[bool, int]:
        """Take the valid new events of a sync-conflict copy (see copies.py). Returns whether
        anything was taken and the last sequence number the copy agrees with us on."""
        mirrored = self.mirror.lines(log)
        try:
            reading = read_copy(
                copy,
                mirrored,
                self.mirror.hashes(log),
                vault_id=self.vault_id,
                log=log,
                card=card,
            )
        except (OSError, IntegrityError) as exc:
            why = _("{file} cannot be read: {why}").format(file=copy.name, why=exc)
            problems.append(Problem(Kind.UNREADABLE, why, log))
            return False, -1
        if reading.fork_at is not None:
            problems.append(fork(copy, log, reading.fork_at))
            return False, reading.fork_at - 1
        if reading.stale or reading.bad_at is not None:
            problems.append(bad_copy(copy, log, reading))
        extra = [e.line.rstrip(b"\n") for e in reading.new]
        took = self.accept(st, log, card, extra, problems, copy.name) if extra else False
        return took, reading.same + len(reading.new) - 1


def _check_witness(st: State, event: Event, problems: list[Problem]) -> None:
    """A member's event that names an owner head this machine does not know: reported
    against the member's log, and not taken as a witness of the owner's (state.py)."""
    head = event.fields.get("owner_head")
    if head is not None and not state.known_owner_head(st, head):
        claimed = head.get("seq") if isinstance(head, dict) else None
        problems.append(
            Problem(
                Kind.UNKNOWN_WITNESS,
                _(
                    "a record in this member's log names owner event {seq}, which this "
                    "machine has not accepted (a sync delay, or a forged record)"
                ).format(seq=repr(claimed)[:40]),
                event.actor,
                event.seq,
                fatal=False,
            )
        )


def _seq(head: Head | None) -> int:
    """The last accepted sequence number of a log, -1 before its first event."""
    return head["seq"] if head else -1
