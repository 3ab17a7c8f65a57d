"""The vault folder as seen from this machine: load what arrived, append my own events.

The folder (any synced folder or git work tree) holds `vault.json` and one append-only
log per person. Nothing read from it is trusted until verified. A command verifies only
the lines that arrived since the heads this machine accepted (arrivals.py), so its cost
does not grow with the history; the state is cached beside the mirror (mirror.py).
Writes go through one `Writer`: every event of a command is checked against the state
and the limits its readers enforce, then all of them are appended in one write and one
fsync, mirrored, and the state cache saved once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import fsutil, labels, state
from ..clock import Clock, now_utc, system_clock
from ..encoding import dumps
from ..errors import (
    AlreadyExists,
    CacheDamaged,
    IntegrityError,
    Malformed,
    StorageError,
    TakusuError,
    UnknownVersion,
)
from ..events import Event, make_event
from ..i18n import _
from ..identity import Card, Identity
from ..state import State
from .arrivals import Arrivals
from .folder import VaultFolder
from .fullpass import verify_folder_log
from .mirror import Mirror
from .problems import Kind, Loaded, Problem
from .repair import Repaired, repair_logs

Precheck = Callable[[State], None]


class Store:
    """One vault as seen from this machine: folder + mirror + cached state."""

    def __init__(
        self,
        folder: Path,
        home: Path,
        vault_id: str,
        owner_card: Card,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
        clock: Clock = system_clock,
    ) -> None:
        self.folder = VaultFolder(folder)
        self.vault_id = vault_id
        self.owner_card = owner_card
        self.disk = disk
        self.clock = clock
        self.mirror = Mirror(home / "vaults" / vault_id, disk)
        self.lock_path = home / "locks" / f"{vault_id}.lock"
        self.arrivals = Arrivals(self.folder, self.mirror, vault_id, owner_card.id)
        self._writer: Writer | None = None

    @property
    def owner(self) -> str:
        return self.owner_card.id

    @classmethod
    def create(
        cls,
        folder: Path,
        home: Path,
        owner: Identity,
        name: str,
        genesis_body: dict[str, Any],
        vault_id: str,
        disk: fsutil.Disk = fsutil.DEFAULT_DISK,
        clock: Clock = system_clock,
    ) -> Store:
        # A fresh `git clone` of an empty remote holds only .git: that is empty enough.
        if folder.is_symlink() or (
            folder.exists() and any(p.name != ".git" for p in folder.iterdir())
        ):
            raise AlreadyExists(
                _("{path} is not empty; a vault needs a folder of its own").format(path=folder)
            )
        fsutil.ensure_dir(folder / "logs", disk)
        meta = {
            "v": labels.FORMAT_VERSION,
            "vault": vault_id,
            "name": name,
            "owner_card": owner.card.envelope,
            "created": now_utc(clock),
        }
        fsutil.write_new(folder / "vault.json", dumps(meta), disk)
        # In a git work tree, logs must stay byte-exact (no CRLF conversion on Windows).
        fsutil.write_new(folder / ".gitattributes", b"*.jsonl -text\n*.json -text\n", disk)
        store = cls(folder, home, vault_id, owner.card, disk, clock)
        with fsutil.locked(store.lock_path):
            writer = Writer(store, owner, Loaded(state.empty()))
            writer.add("vault.create", genesis_body)
            writer.commit()
        return store

    # --- reading ------------------------------------------------------------------------------

    def load(self) -> Loaded:
        """Bring the mirror up to date with the folder and return the verified state."""
        with fsutil.locked(self.lock_path):
            return self._load_locked()

    def _load_locked(self) -> Loaded:
        try:
            return self._load_once(None)
        except CacheDamaged as exc:
            # an item of the cache did not parse when an arriving event asked for it
            # (state.json named that very file's digest, so someone wrote both): this
            # machine's own data, rebuilt from the verified mirror (which the error has
            # made this process forget), not blamed on a log
            return self._load_once(exc)

    def _load_once(self, damaged: CacheDamaged | None) -> Loaded:
        problems: list[Problem] = []
        self.folder.check_logs_dir()
        st, changed = self._cached_state(problems, damaged)
        copies, unknown = self.folder.sources()
        own_copies = copies.get(self.owner, [])
        changed |= self.arrivals.ingest(st, self.owner, self.owner_card, own_copies, problems)
        if st["owner"] is None:
            raise IntegrityError(_("the vault has no valid first event"), log=self.owner, seq=0)
        for path in unknown:
            problems.append(
                Problem(
                    Kind.UNKNOWN_FILE,
                    _("unexpected file in logs/: {file}").format(file=path.name),
                    fatal=False,
                )
            )
        for log in sorted(set(copies) | set(st["members"])):
            if log == self.owner:
                continue
            member = st["members"].get(log)
            if member is None:
                problems.append(
                    Problem(
                        Kind.UNKNOWN_LOG,
                        _("a log from someone who is not a member is ignored"),
                        log,
                        fatal=False,
                    )
                )
                continue
            card = Card.from_envelope(member["card"])
            changed |= self.arrivals.ingest(st, log, card, copies.get(log, []), problems)
        _check_witnesses(st, problems)
        if changed:
            self.mirror.save_state(st)
        return Loaded(st, problems)

    def _cached_state(
        self, problems: list[Problem], damaged: CacheDamaged | None = None
    ) -> tuple[State, bool]:
        """The cached state, or (if it is missing or damaged, or an item of it turned out
        `damaged`) the state rebuilt from the mirror."""
        why = None if damaged is None else damaged.message
        if why is None:
            try:
                st = self.mirror.load_state(state.empty())
                if st["heads"] or not self.mirror.path(self.owner).exists():
                    return st, False
            except (Malformed, UnknownVersion, CacheDamaged) as exc:
                why = exc.message
        if why is not None:
            problems.append(
                Problem(
                    Kind.CACHE,
                    _("{why}; rebuilt it from the verified mirror").format(why=why),
                    fatal=False,
                )
            )
        return self.arrivals.rebuild(self.owner_card, problems), True

    def event_at(self, log: str, ref: list[int] | None) -> dict[str, Any]:
        """The fields of one accepted event by its mirror reference (pending ones included)."""
        writer = self._writer
        if writer is not None and ref and log == writer.log and ref[0] >= writer.start:
            return writer.pending_fields(ref)
        return self.mirror.event_at(log, ref)

    # --- the thorough pass --------------------------------------------------------------------

    def verify_log(self, log: str, card: Card, problems: list[Problem]) -> list[Event]:
        """Verify a whole log in the folder from seq 0 and compare it with the mirror."""
        return verify_folder_log(self.folder, self.mirror, self.vault_id, log, card, problems)

    def repair(self) -> Repaired:
        """Restore damaged, missing or shortened folder logs from the verified mirror."""
        with fsutil.locked(self.lock_path):
            loaded = self._load_locked()
            return repair_logs(
                self.folder, self.mirror, self.vault_id, self.owner_card, loaded.state
            )

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, identity: Identity, precheck: Precheck | None = None) -> Iterator[Writer]:
        """Lock, bring the state up to date and refuse to build on a damaged owner or own log;
        yield a Writer to add events to; on a clean exit append them all in one write and
        one fsync. `precheck` sees the state under the lock and may raise to cancel (a
        receipt re-checks that its grant still stands). On an exception nothing is written
        and the state handed out must be reloaded."""
        with fsutil.locked(self.lock_path):
            loaded = self._load_locked()
            self._catch_up_own_log(identity.id, loaded)
            blocking = [p for p in loaded.fatal if p.log in (identity.id, self.owner)]
            if blocking:
                raise IntegrityError(
                    _("refusing to write: {problem}").format(problem=blocking[0]),
                    hint=_(
                        "run 'takusu doctor'; the owner can restore the folder with "
                        "'takusu doctor --repair' or go on with 'takusu doctor --accept-rollback'"
                    ),
                )
            if precheck is not None:
                precheck(loaded.state)
            writer = Writer(self, identity, loaded)
            self._writer = writer
            try:
                yield writer
                writer.commit()
            finally:
                self._writer = None

    def append(
        self,
        identity: Identity,
        type_: str,
        body: dict[str, Any],
        precheck: Precheck | None = None,
    ) -> Loaded:
        """Append one signed event to my log (see `writing`); returns the state after it."""
        with self.writing(identity, precheck) as writer:
            writer.add(type_, body)
        return writer.loaded

    def _catch_up_own_log(self, me: str, loaded: Loaded) -> None:
        """My log's main file lags behind a sync-conflict copy (non-fatal 'behind'): I am its
        only writer and my mirror holds every event, so put them back before appending."""
        if not any(p.log == me and p.kind == Kind.BEHIND for p in loaded.problems):
            return
        mirrored = self.mirror.read(me)
        current = self.folder.read_log(me)
        if mirrored.startswith(current[: current.rfind(b"\n") + 1]):
            fsutil.atomic_write(self.folder.log_path(me), mirrored, self.disk)
            loaded.problems = [
                p for p in loaded.problems if not (p.log == me and p.kind == Kind.BEHIND)
            ]


class Writer:
    """The events one command adds to my log, applied to the state as they are added (so an
    invalid one is refused before anything is written) and written together at the end."""

    def __init__(self, store: Store, identity: Identity, loaded: Loaded) -> None:
        self.store = store
        self.identity = identity
        self.loaded = loaded
        self.log = identity.id
        head = loaded.state["heads"].get(self.log)
        self.start = head["size"] if head else 0
        self.lines: list[bytes] = []
        self.events: list[Event] = []
        self._by_ref: dict[tuple[int, int], Event] = {}  # offboarding adds thousands

    @property
    def state(self) -> State:
        return self.loaded.state

    def add(self, type_: str, body: dict[str, Any]) -> Event:
        """Sign the next event of my log, check it against every rule, and keep it."""
        st = self.state
        head = st["heads"].get(self.log)
        witnessed = {k: {"seq": v["seq"], "hash": v["hash"]} for k, v in st["heads"].items()}
        if self.log == self.store.owner:
            body = {**body, "seen": {k: v for k, v in witnessed.items() if k != self.log}}
        elif self.store.owner in witnessed:
            body = {**body, "owner_head": witnessed[self.store.owner]}
        size = head["size"] if head else 0
        event = make_event(
            self.identity,
            self.store.vault_id,
            head["seq"] + 1 if head else 0,
            head["hash"] if head else None,
            now_utc(self.store.clock),
            type_,
            body,
        )
        if len(event.line) - 1 > labels.MAX_LINE:
            raise StorageError(
                _(
                    "this change is too large to record: its event would be {size} bytes, "
                    "and readers accept at most {limit}"
                ).format(size=f"{len(event.line):,}", limit=f"{labels.MAX_LINE:,}"),
                hint=_("nothing was written; make the item smaller or share it with fewer people"),
            )
        event = replace(event, ref=[size, len(event.line)])
        # `st` may be the memo's: it changes now (its items, if this is the owner's log; its
        # retrievals, if a member's)
        owners = self.log == self.store.owner
        self.store.mirror.forget_state(
            items=state.items_touched(event) if owners else (), retrievals=not owners
        )
        if owners:
            state.apply_owner(st, event)
        else:
            state.apply_member(st, event)
        st["heads"][self.log] = {
            "seq": event.seq,
            "hash": event.hash,
            "size": size + len(event.line),
            "last": len(event.line),
        }
        self.lines.append(event.line)
        self.events.append(event)
        self._by_ref[(size, len(event.line))] = event
        return event

    def pending_fields(self, ref: list[int]) -> dict[str, Any]:
        """The fields of an event added but not yet written, by its mirror reference."""
        event = self._by_ref.get((ref[0], ref[1])) if len(ref) == 2 else None
        if event is not None:
            return dict(event.fields)
        raise IntegrityError(_("a reference points past this machine's mirror"), log=self.log)

    def commit(self) -> None:
        """Append every added event in one write and one fsync, mirror them, save the state."""
        if not self.lines:
            return
        path = self.store.folder.log_path(self.log)
        seq = self.events[0].seq
        _drop_torn_tail(self.store.mirror, path, self.start, seq)
        blob = b"".join(self.lines)
        fsutil.append_line(path, blob, self.store.disk)
        try:
            self.store.mirror.append(self.log, blob, at=self.start)
        except TakusuError:
            fsutil.truncate_to(path, self.start)  # not acknowledged: take it back
            raise
        self.store.mirror.save_state(self.state)


def _drop_torn_tail(mirror: Mirror, path: Path, size: int, seq: int) -> None:
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
        raise IntegrityError(_("my own log holds events this machine did not write"), log=path.stem)
    mirror.quarantine_once(f"{path.stem}.{seq}.torn", tail)
    try:
        os.truncate(path, size)
    except OSError as exc:
        raise StorageError(
            _("cannot repair the torn end of {path}: {why}").format(path=path, why=exc.strerror)
        ) from exc


def _check_witnesses(st: State, problems: list[Problem]) -> None:
    for log, seen in st["witness"].items():
        head = st["heads"].get(log)
        accepted = head["seq"] if head else -1
        if seen["seq"] > accepted:
            problems.append(
                Problem(
                    Kind.BEHIND,
                    _(
                        "{writer} witnessed event {seq} of this log, which has not arrived "
                        "here (a sync delay, or the log was truncated)"
                    ).format(writer=seen["by"][:8], seq=seen["seq"]),
                    log,
                    accepted + 1,
                    fatal=False,
                )
            )
