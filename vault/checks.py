"""Whole-log checks and repair for a Store: the slow, thorough pass behind `audit verify`,
`doctor` and `doctor --repair` (the everyday path in store.py verifies only what is new).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import fsutil, labels
from .crypto import sha256_hex
from .encoding import loads
from .errors import IntegrityError, Malformed
from .events import Event, split_line, verify_lines
from .folder import Problem
from .identity import Card
from .mirror import split_complete

_GIT_MARKERS = (b"<<<<<<<", b"=======", b">>>>>>>")


class FullChecks:
    """Mixed into Store: everything here reads whole logs."""

    # provided by Store
    vault_id: str
    owner_card: Card
    folder: Any
    mirror: Any
    disk: Any
    lock_path: Any

    @property
    def owner(self) -> str:
        return self.owner_card.id

    def _load_locked(self) -> Any:  # pragma: no cover - Store implements it
        raise NotImplementedError

    def repair(self) -> list[str]:
        """Rewrite every folder log that is damaged, missing or shorter than its verified
        mirror; returns those fixed. A log holding a different *valid* branch (a fork by its
        own writer) is never overwritten: that is a decision for its writer, not for repair."""
        fixed = []
        self.forks_kept: list[str] = []
        with fsutil.locked(self.lock_path):
            loaded = self._load_locked()
            for log in loaded.state["heads"]:
                mirrored = self.mirror.read(log)
                path = self.folder.log_path(log)
                current: bytes | None
                try:
                    current = self.folder.read_log(log)
                except IntegrityError:
                    current = None  # a symlink or a non-file: replace it
                    if path.is_symlink() or path.is_file():
                        path.unlink()
                if current == mirrored or (current is not None and current.startswith(mirrored)):
                    continue  # intact, or only newer events: not damage
                if current and self._is_other_branch(log, current, loaded.state):
                    self.forks_kept.append(log)
                    continue
                fsutil.ensure_dir(self.folder.logs, self.disk)
                fsutil.atomic_write(path, mirrored, self.disk)
                fixed.append(log)
        return fixed

    def _is_other_branch(self, log: str, data: bytes, st: dict[str, Any]) -> bool:
        """True when `data` is a valid chain by the log's writer that diverges from the mirror."""
        card = self.owner_card if log == self.owner else None
        if card is None:
            member = st["members"].get(log)
            if member is None:
                return False
            card = Card.from_envelope(member["card"])
        lines, _ = split_complete(data)
        events = self._verify_whole(lines, log, card, [], "folder")
        if len(events) != len(lines):
            return False  # damaged somewhere: repair it
        known = self.mirror.hashes(log)
        return any(e.hash != known[i] for i, e in enumerate(events[: len(known)]))

    # --- full checks (audit verify, doctor) ---------------------------------------------------

    def event_at(self, log: str, ref: list[int] | None) -> dict[str, Any]:
        """The fields of one mirrored event, found by its [offset, length] reference."""

        if not ref:
            raise IntegrityError("this machine's state cache lacks an event reference", log=log)
        line = self.mirror.line_at(log, ref[0], ref[1])
        payload, _sig = split_line(line.rstrip(b"\n"), log, -1)
        fields = loads(payload, "event payload")
        if not isinstance(fields, dict):
            raise Malformed("mirrored event is not an object", log=log)
        return fields

    def mirror_events(self, log: str) -> list[dict[str, Any]]:
        """Payloads of a log as this machine verified and mirrored them, in order."""
        from .events import split_line

        out = []
        for seq, line in enumerate(self.mirror.lines(log)):
            payload, _sig = split_line(line, log, seq)
            fields = loads(payload)
            fields["_hash"] = sha256_hex(payload)
            out.append(fields)
        return out

    def _verified(
        self,
        lines: list[bytes],
        log: str,
        card: Card,
        problems: list[Problem],
        source: str,
        start: int = 0,
        prev: str | None = None,
    ) -> Iterator[Event]:
        """Verify consecutive lines of `log` from `start` after `prev`, yielding each event;
        at the first bad line, record the problem (with its place) and stop."""
        for offset, line in enumerate(lines):
            seq = start + offset
            try:
                (event,) = verify_lines(
                    [line],
                    sign_key=card.sign_key,
                    vault_id=self.vault_id,
                    actor=log,
                    log=log,
                    start_seq=seq,
                    prev=prev,
                )
            except IntegrityError as exc:
                if line.startswith(_GIT_MARKERS):
                    problems.append(
                        Problem("git-conflict", f"git conflict markers in {source}", log, seq)
                    )
                else:
                    problems.append(Problem("tampered", f"{exc.reason} in {source}", log, seq))
                return
            yield event
            prev = event.hash

    def _verify_whole(
        self, lines: list[bytes], log: str, card: Card, problems: list[Problem], source: str
    ) -> list[Event]:
        """Verify lines as a log from seq 0; stop (with a problem) at the first bad one."""
        return list(self._verified(lines, log, card, problems, source))

    def verify_folder_log(self, log: str, card: Card, problems: list[Problem]) -> list[Event]:
        """Verify a whole log in the folder from seq 0 (its sync-conflict copies merged by
        hash) and compare it with the mirror."""
        path = self.folder.log_path(log)
        try:
            data = fsutil.read_bytes(path, labels.MAX_LOG)
        except FileNotFoundError:
            data = b""
        except IntegrityError as exc:
            problems.append(Problem("unreadable", exc.message, log))
            return []
        lines, torn = split_complete(data)
        if torn:
            problems.append(
                Problem("torn", "the log's last line is incomplete", log, len(lines), fatal=False)
            )
        events = self._verify_whole(lines, log, card, problems, path.name)
        main_length = len(events)
        for copy in self.folder.sources()[0].get(log, []):
            try:
                copy_lines = split_complete(fsutil.read_bytes(copy, labels.MAX_LOG))[0]
            except (OSError, IntegrityError):
                continue
            other = self._verify_whole(copy_lines, log, card, problems, copy.name)
            shared = min(len(events), len(other))
            fork = next((i for i in range(shared) if events[i].hash != other[i].hash), None)
            if fork is not None:
                problems.append(
                    Problem(
                        "fork",
                        f"{copy.name} holds a different valid event at "
                        "the same sequence number: the log has forked",
                        log,
                        fork,
                    )
                )
            elif len(other) > len(events):
                events = other
        if len(events) > main_length:
            problems.append(
                Problem(
                    "behind",
                    "the log's main file is behind its sync-conflict "
                    "copy; 'takusu doctor --repair' puts it back together",
                    log,
                    main_length,
                    fatal=False,
                )
            )
        known = self.mirror.hashes(log)
        for seq, digest in enumerate(known):
            if seq >= len(events):
                problems.append(
                    Problem(
                        "rollback",
                        "the folder's log is shorter than what this machine accepted",
                        log,
                        seq,
                    )
                )
                break
            if events[seq].hash != digest:
                problems.append(
                    Problem(
                        "rewritten", "an event differs from the one this machine accepted", log, seq
                    )
                )
                break
        return events
