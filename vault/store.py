"""The vault folder on disk, read through this machine's verified mirror.

The folder (any synced folder or git work tree) holds `vault.json` and one append-only
log per person. Nothing read from it is trusted until verified. A command verifies
only the lines that arrived since the heads this machine accepted (kept with the
mirror, see mirror.py), so its cost does not grow with the history. A log that
shrinks, is rewritten or forks is reported with its place and state is served from
the mirror meanwhile. Sync-conflict copies of a log are extra sources for the same
writer: their valid events are merged by hash, and two valid events with one
sequence number are reported as a fork.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import fsutil, labels, state
from .checks import FullChecks
from .clock import now_utc
from .encoding import dumps
from .errors import (
    AlreadyExists,
    IntegrityError,
    Malformed,
    TakusuError,
    UnknownVersion,
)
from .events import Event, make_event
from .folder import Loaded, Problem, VaultFolder
from .identity import Card, Identity
from .mirror import Mirror, split_complete

__all__ = ["Loaded", "Problem", "Store", "VaultFolder", "split_complete"]


class Store(FullChecks):
    """One vault as seen from this machine: folder + mirror + cached state."""

    def __init__(
        self,
        folder: Path,
        home: Path,
        vault_id: str,
        owner_card: Card,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
    ) -> None:
        self.folder = VaultFolder(folder)
        self.vault_id = vault_id
        self.owner_card = owner_card
        self.disk = disk
        self.mirror = Mirror(home / "vaults" / vault_id, disk)
        self.lock_path = home / "locks" / f"{vault_id}.lock"

    @classmethod
    def create(
        cls,
        folder: Path,
        home: Path,
        owner: Identity,
        name: str,
        genesis_body: dict,
        vault_id: str,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
    ) -> Store:
        # A fresh `git clone` of an empty remote holds only .git: that is empty enough.
        if folder.is_symlink() or (
            folder.exists() and any(p.name != ".git" for p in folder.iterdir())
        ):
            raise AlreadyExists(f"{folder} is not empty; a vault needs a folder of its own")
        fsutil.ensure_dir(folder / "logs", disk)
        meta = {
            "v": labels.FORMAT_VERSION,
            "vault": vault_id,
            "name": name,
            "owner_card": owner.card.envelope,
            "created": now_utc(),
        }
        fsutil.write_new(folder / "vault.json", dumps(meta), disk)
        # In a git work tree, logs must stay byte-exact (no CRLF conversion on Windows).
        fsutil.write_new(folder / ".gitattributes", b"*.jsonl -text\n*.json -text\n", disk)
        store = cls(folder, home, vault_id, owner.card, disk)
        with fsutil.locked(store.lock_path):
            store._append_locked(owner, "vault.create", genesis_body, state.empty())
        return store

    # --- reading ------------------------------------------------------------------------------

    def load(self) -> Loaded:
        """Bring the mirror up to date with the folder and return the verified state."""
        with fsutil.locked(self.lock_path):
            return self._load_locked()

    def _load_locked(self) -> Loaded:
        problems: list[Problem] = []
        self.folder.check_logs_dir()
        st, changed = self._state(problems)
        copies, unknown = self.folder.sources()
        changed |= self._ingest(
            st, self.owner, self.owner_card, copies.get(self.owner, []), problems
        )
        if st.get("owner") is None:
            raise IntegrityError("the vault has no valid genesis event", log=self.owner, seq=0)
        for path in unknown:
            problems.append(
                Problem("unknown-file", f"unexpected file in logs/: {path.name}", fatal=False)
            )
        for log in sorted(set(copies) | set(st["members"])):
            if log == self.owner:
                continue
            member = st["members"].get(log)
            if member is None:
                problems.append(
                    Problem(
                        "unknown-log",
                        "a log from someone who is not a member is ignored",
                        log,
                        fatal=False,
                    )
                )
                continue
            card = Card.from_envelope(member["card"])
            changed |= self._ingest(st, log, card, copies.get(log, []), problems)
        self._check_witnesses(st, problems)
        if changed:
            self.mirror.save_state(st)
        return Loaded(st, problems)

    def _state(self, problems: list[Problem]) -> tuple[dict[str, Any], bool]:
        """The cached state, or (if it is missing or damaged) the state rebuilt from the mirror."""
        try:
            st = self.mirror.load_state(state.empty())
            if st["heads"] or not self.mirror.path(self.owner).exists():
                return st, False
        except (Malformed, UnknownVersion) as exc:
            problems.append(
                Problem("cache", f"{exc.message}; rebuilt it from the verified mirror", fatal=False)
            )
        st = state.empty()
        self._accept(
            st,
            self.owner,
            self.owner_card,
            self.mirror.lines(self.owner),
            problems,
            "the mirror",
            to_mirror=False,
        )
        for path in sorted(self.mirror.logs.glob("*.jsonl")):
            member = st["members"].get(path.stem)
            if member is not None:
                self._accept(
                    st,
                    path.stem,
                    Card.from_envelope(member["card"]),
                    self.mirror.lines(path.stem),
                    problems,
                    "the mirror",
                    to_mirror=False,
                )
        return st, True

    def _check_witnesses(self, st: dict[str, Any], problems: list[Problem]) -> None:
        for log, seen in st.get("witness", {}).items():
            head = st["heads"].get(log, {}).get("seq", -1)
            if seen["seq"] > head:
                problems.append(
                    Problem(
                        "behind",
                        f"{seen['by'][:8]} witnessed event {seen['seq']} of this log, which "
                        "has not arrived here (a sync delay, or the log was truncated)",
                        log,
                        head + 1,
                        fatal=False,
                    )
                )

    def _read_new(self, log: str, head: dict[str, Any], problems: list[Problem]) -> list[bytes]:
        """Complete lines after the accepted head in the folder's log; problems on damage."""
        path = self.folder.log_path(log)
        size = head.get("size", 0)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
        except FileNotFoundError:
            if size:
                problems.append(
                    Problem(
                        "missing",
                        "a log this machine accepted is gone from the folder",
                        log,
                        head.get("seq"),
                    )
                )
            return []
        except OSError as exc:
            problems.append(Problem("unreadable", f"log cannot be read ({exc.strerror})", log))
            return []
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                problems.append(Problem("unreadable", "log is not a regular file", log))
                return []
            total = info.st_size
            if total > labels.MAX_LOG:
                problems.append(Problem("oversize", "log is larger than takusu allows", log))
                return []
            if total < size:
                problems.append(
                    Problem(
                        "rollback",
                        "log shrank: events this machine accepted are "
                        "missing (truncated, or an old copy restored)",
                        log,
                        head.get("seq"),
                    )
                )
                return []
            start = size - head.get("last", 0)
            os.lseek(fd, start, os.SEEK_SET)
            data = fsutil.read_all(fd, total - start)
        finally:
            os.close(fd)
        if size:
            if data[: head["last"]] != self.mirror.last_line(log, head):
                problems.append(
                    Problem(
                        "rewritten",
                        "log was rewritten: the last event this machine accepted has changed",
                        log,
                        head.get("seq"),
                    )
                )
                return []
            data = data[head["last"] :]
        lines, torn = split_complete(data)
        if torn:
            seq = head.get("seq", -1) + 1 + len(lines)
            kept = self.mirror.quarantine_once(f"{log}.{seq}.torn", torn)
            problems.append(
                Problem(
                    "torn",
                    f"the log's last line is incomplete (an interrupted write); it is ignored "
                    f"and a copy kept in {kept}",
                    log,
                    seq,
                    fatal=False,
                )
            )
        return lines

    def _accept(
        self,
        st: dict[str, Any],
        log: str,
        card: Card,
        lines: list[bytes],
        problems: list[Problem],
        source: str,
        to_mirror: bool = True,
    ) -> bool:
        """Verify lines that follow the head, apply them, mirror them. True if any were taken."""
        head = st["heads"].get(log, {})
        start, prev = head.get("seq", -1) + 1, head.get("hash")
        position = head.get("size", 0)
        accepted: list[Event] = []
        for event in self._verified(lines, log, card, problems, source, start, prev):
            event = replace(event, ref=[position, len(event.line)])
            try:
                if log == self.owner:
                    state.apply_owner(st, event)
                else:
                    state.apply_member(st, event)
            except IntegrityError as exc:
                problems.append(Problem("tampered", f"{exc.reason} in {source}", log, event.seq))
                break
            accepted.append(event)
            position += len(event.line)
        if accepted:
            blob = b"".join(e.line for e in accepted)
            if to_mirror:
                self.mirror.append(log, blob, at=head.get("size", 0))
            st["heads"][log] = {
                "seq": accepted[-1].seq,
                "hash": accepted[-1].hash,
                "size": head.get("size", 0) + len(blob),
                "last": len(accepted[-1].line),
            }
        return bool(accepted)

    def _ingest(
        self, st: dict[str, Any], log: str, card: Card, copies: list[Path], problems: list[Problem]
    ) -> bool:
        before = len(problems)
        lines = self._read_new(log, st["heads"].get(log, {}), problems)
        changed = self._accept(st, log, card, lines, problems, f"{log}.jsonl")
        covered = -1
        for copy in copies:
            took, seq = self._merge_copy(st, log, card, copy, problems)
            changed |= took
            covered = max(covered, seq)
        head = st["heads"].get(log, {}).get("seq", -1)
        for problem in problems[before:]:
            if problem.kind in ("rollback", "missing") and copies and covered >= head:
                problem.kind, problem.fatal = "behind", False
                problem.message = (
                    "the log's main file is behind its sync-conflict copy; "
                    "'takusu doctor --repair' puts it back together"
                )
        return changed

    def _merge_copy(
        self, st: dict[str, Any], log: str, card: Card, copy: Path, problems: list[Problem]
    ) -> tuple[bool, int]:
        """Take the valid events of a sync-conflict copy; a different event at a known seq is a
        fork. Returns whether anything was taken and the last sequence the copy agrees on."""
        try:
            data = fsutil.read_bytes(copy, labels.MAX_LOG)
        except (OSError, IntegrityError) as exc:
            problems.append(Problem("unreadable", f"{copy.name} cannot be read: {exc}", log))
            return False, -1
        lines, _torn = split_complete(data)
        events = self._verify_whole(lines, log, card, problems, copy.name)
        known = self.mirror.hashes(log)
        for seq, event in enumerate(events[: len(known)]):
            if event.hash != known[seq]:
                problems.append(
                    Problem(
                        "fork",
                        f"{copy.name} holds a different valid event at "
                        "the same sequence number: the log has forked",
                        log,
                        seq,
                    )
                )
                return False, seq - 1
        extra = [e.line.rstrip(b"\n") for e in events[len(known) :]]
        return self._accept(st, log, card, extra, problems, copy.name), len(events) - 1

    # --- writing ------------------------------------------------------------------------------

    def append(
        self,
        identity: Identity,
        type_: str,
        body: dict[str, Any],
        precheck: Callable[[dict[str, Any]], None] | None = None,
    ) -> Loaded:
        """Lock, bring state up to date, append one signed event to my log, fsync; return state.

        `precheck` sees the state as it is under the lock, just before the write, and may
        raise to cancel it (a receipt re-checks that the grant still stands)."""
        with fsutil.locked(self.lock_path):
            loaded = self._load_locked()
            self._catch_up_own_log(identity.id, loaded)
            blocking = [p for p in loaded.fatal if p.log in (identity.id, self.owner)]
            if blocking:
                raise IntegrityError(
                    f"refusing to write: {blocking[0]}",
                    hint="run 'takusu doctor'; the owner can restore the folder with "
                    "'takusu doctor --repair' or go on with 'takusu doctor --accept-rollback'",
                )
            if precheck is not None:
                precheck(loaded.state)
            self._append_locked(identity, type_, body, loaded.state)
            return loaded

    def _catch_up_own_log(self, me: str, loaded: Loaded) -> None:
        """My log's main file lags behind a sync-conflict copy (non-fatal 'behind'): I am its
        only writer and my mirror holds every event, so put them back before appending."""
        if not any(p.log == me and p.kind == "behind" for p in loaded.problems):
            return
        mirrored = self.mirror.read(me)
        current = self.folder.read_log(me)
        if mirrored.startswith(current[: current.rfind(b"\n") + 1]):
            fsutil.atomic_write(self.folder.log_path(me), mirrored, self.disk)
            loaded.problems = [
                p for p in loaded.problems if not (p.log == me and p.kind == "behind")
            ]

    def _append_locked(
        self, identity: Identity, type_: str, body: dict[str, Any], st: dict[str, Any]
    ) -> Event:
        log = identity.id
        path = self.folder.log_path(log)
        head = st["heads"].get(log, {})
        self._drop_torn_tail(path, head.get("size", 0), head.get("seq", -1) + 1)
        heads = {k: {"seq": v["seq"], "hash": v["hash"]} for k, v in st["heads"].items()}
        if log == self.owner:
            body = {**body, "seen": {k: v for k, v in heads.items() if k != log}}
        elif self.owner in heads:
            body = {**body, "owner_head": heads[self.owner]}
        event = make_event(
            identity,
            self.vault_id,
            head.get("seq", -1) + 1,
            head.get("hash"),
            now_utc(),
            type_,
            body,
        )
        event = replace(event, ref=[head.get("size", 0), len(event.line)])
        if log == self.owner:
            state.apply_owner(st, event)  # refuse an invalid event before it is written
        else:
            state.apply_member(st, event)
        fsutil.append_line(path, event.line, self.disk)
        try:
            self.mirror.append(log, event.line, at=head.get("size", 0))
        except TakusuError:
            fsutil.truncate_to(path, head.get("size", 0))  # not acknowledged: take it back
            raise
        st["heads"][log] = {
            "seq": event.seq,
            "hash": event.hash,
            "size": head.get("size", 0) + len(event.line),
            "last": len(event.line),
        }
        self.mirror.save_state(st)
        return event

    def _drop_torn_tail(self, path: Path, size: int, seq: int) -> None:
        """My own log only: keep a torn tail aside, then cut the file back to its last event."""
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            return
        if actual <= size:
            return
        with open(path, "rb") as fh:
            fh.seek(size)
            tail = fh.read()
        if b"\n" in tail:
            raise IntegrityError(
                "my own log holds events this machine did not write", log=path.stem
            )
        self.mirror.quarantine_once(f"{path.stem}.{seq}.torn", tail)
        try:
            os.truncate(path, size)
        except OSError as exc:
            from .errors import StorageError

            raise StorageError(f"cannot repair the torn end of {path}: {exc.strerror}") from exc
