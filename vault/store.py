"""The vault folder on disk and this machine's verified mirror of it.

The folder (any synced folder or git work tree) holds `vault.json` and one append-only
log per person. Nothing read from it is trusted until verified. This machine keeps,
in TAKUSU_HOME, a mirror of every verified log, the head (seq, hash, size) it last
accepted, and the folded state, so a command verifies only the lines that arrived
since, and a log that shrinks, is rewritten or forks is reported with its place while
state is served from the mirror.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fsutil, labels, state
from .encoding import dumps, loads
from .errors import IntegrityError, Malformed, StorageError, UnknownVersion
from .crypto import sha256_hex as crypto_hash
from .events import Event, make_event, verify_lines
from .identity import Card, Identity, now_utc

_LOG_NAME = re.compile(r"^(?P<id>[0-9a-f]{32})(?P<rest>.*)\.jsonl$")
_CONFLICT = re.compile(r"(\(.*conflicted copy.*\)|\.sync-conflict-[0-9A-Za-z-]+)")


@dataclass
class Problem:
    """Something wrong with the folder, with its place. `fatal` ones are tampering."""

    kind: str
    message: str
    log: str | None = None
    seq: int | None = None
    fatal: bool = True

    def __str__(self) -> str:
        place = ""
        if self.log:
            place = f" (log {self.log[:12]}" + (f", seq {self.seq})" if self.seq is not None else ")")
        return self.message + place


@dataclass
class Loaded:
    """The verified state of a vault and what was found wrong on the way."""

    state: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]


def split_complete(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without newline) and the torn remainder after the last newline."""
    if not data:
        return [], b""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


class VaultFolder:
    """The shared folder: vault.json and logs/<member-id>.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.logs = path / "logs"

    def meta(self) -> dict[str, Any]:
        from .errors import NoVault

        meta_path = self.path / "vault.json"
        try:
            raw = fsutil.read_bytes(meta_path, labels.MAX_SMALL_FILE)
        except FileNotFoundError:
            raise NoVault(f"{self.path} is not a takusu vault (no vault.json)") from None
        meta = loads(raw, "vault.json")
        if not isinstance(meta, dict) or meta.get("v") != labels.FORMAT_VERSION:
            raise UnknownVersion(f"{meta_path} has an unknown format version")
        if not isinstance(meta.get("vault"), str) or not re.fullmatch(r"[0-9a-f]{32}", meta["vault"]):
            raise Malformed(f"{meta_path} has no valid vault id")
        return meta

    def log_path(self, member_id: str) -> Path:
        return self.logs / f"{member_id}.jsonl"

    def sources(self) -> tuple[dict[str, list[Path]], list[Path]]:
        """Log files by writer (main file first, then sync-conflict copies) and unknown files."""
        by_writer: dict[str, list[Path]] = {}
        unknown: list[Path] = []
        if not self.logs.is_dir():
            return by_writer, unknown
        for entry in sorted(self.logs.iterdir()):
            match = _LOG_NAME.match(entry.name)
            if match and match["rest"] == "":
                by_writer.setdefault(match["id"], []).insert(0, entry)
            elif match and _CONFLICT.search(match["rest"]):
                by_writer.setdefault(match["id"], []).append(entry)
            elif not entry.name.startswith("."):
                unknown.append(entry)
        return by_writer, unknown


class Store:
    """One vault as seen from this machine: folder + mirror + cached state."""

    def __init__(self, folder: Path, home: Path, vault_id: str, owner_card: Card,
                 disk: fsutil.Disk = fsutil.DEFAULT_DISK) -> None:
        self.folder = VaultFolder(folder)
        self.vault_id = vault_id
        self.owner_card = owner_card
        self.disk = disk
        self.local = home / "vaults" / vault_id
        self.mirror = self.local / "mirror"
        self.cache_path = self.local / "state.json"
        self.lock_path = home / "locks" / f"{vault_id}.lock"

    # --- creating -----------------------------------------------------------------------------

    @classmethod
    def create(cls, folder: Path, home: Path, owner: Identity, name: str, genesis_body: dict,
               vault_id: str, disk: fsutil.Disk = fsutil.DEFAULT_DISK) -> Store:
        if folder.exists() and any(folder.iterdir()):
            from .errors import AlreadyExists

            raise AlreadyExists(f"{folder} is not empty; a vault needs a folder of its own")
        fsutil.ensure_dir(folder / "logs", disk)
        meta = {"v": labels.FORMAT_VERSION, "vault": vault_id, "name": name,
                "owner_card": owner.card.envelope, "created": now_utc()}
        fsutil.write_new(folder / "vault.json", dumps(meta), disk)
        store = cls(folder, home, vault_id, owner.card, disk)
        with fsutil.locked(store.lock_path):
            store._append_locked(owner, "vault.create", genesis_body, state.empty())
        return store

    # --- reading ------------------------------------------------------------------------------

    def _cached(self) -> dict[str, Any]:
        try:
            raw = fsutil.read_bytes(self.cache_path, labels.MAX_LOG)
        except FileNotFoundError:
            return state.empty()
        doc = loads(raw, "state cache")
        if not isinstance(doc, dict) or doc.get("label") != labels.MIRROR_STATE:
            raise UnknownVersion(f"{self.cache_path} is not a takusu state cache")
        return dict(doc["state"])

    def _save(self, st: dict[str, Any]) -> None:
        fsutil.ensure_dir(self.local, self.disk)
        fsutil.atomic_write(self.cache_path, dumps({"label": labels.MIRROR_STATE, "state": st}),
                            self.disk)

    def _read_new(self, path: Path, head: dict[str, Any], log: str,
                  problems: list[Problem]) -> tuple[list[bytes], bytes]:
        """Lines after the accepted head in `path`, plus a torn tail; problems on shrink/rewrite."""
        size = head.get("size", 0)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            if size:
                problems.append(Problem("missing", "a log the mirror has seen is gone from the folder",
                                        log, head.get("seq")))
            return [], b""
        except OSError as exc:
            problems.append(Problem("unreadable", f"log cannot be read ({exc.strerror})", log))
            return [], b""
        try:
            total = os.fstat(fd).st_size
            if total > labels.MAX_LOG:
                problems.append(Problem("oversize", "log is larger than takusu allows", log))
                return [], b""
            if total < size:
                problems.append(Problem("rollback", "log shrank: events this machine accepted are "
                                        "missing (truncation or an old copy restored)", log,
                                        head.get("seq")))
                return [], b""
            start = size - head.get("last", 0)
            os.lseek(fd, start, os.SEEK_SET)
            data = b""
            while len(data) < total - start:
                chunk = os.read(fd, total - start - len(data))
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        if size:
            last = data[: head["last"]]
            if last != self._mirror_last(log, head):
                problems.append(Problem("rewritten", "log was rewritten: its accepted last event "
                                        "changed", log, head.get("seq")))
                return [], b""
            data = data[head["last"] :]
        lines, torn = split_complete(data)
        if torn:
            problems.append(Problem("torn", "the log's last line is incomplete (an interrupted "
                                    "write); it is ignored", log, head.get("seq", -1) + 1 + len(lines),
                                    fatal=False))
        return lines, torn

    def _mirror_last(self, log: str, head: dict[str, Any]) -> bytes:
        path = self.mirror / f"{log}.jsonl"
        with open(path, "rb") as fh:
            fh.seek(head["size"] - head["last"])
            return fh.read(head["last"])

    def _ingest(self, st: dict[str, Any], log: str, card: Card, problems: list[Problem]) -> bool:
        """Verify and apply what arrived in one log since its head. True if anything did."""
        head = st["heads"].get(log, {})
        lines, _ = self._read_new(self.folder.log_path(log), head, log, problems)
        if not lines:
            return False
        accepted: list[Event] = []
        start = head.get("seq", -1) + 1
        prev = head.get("hash")
        for offset, line in enumerate(lines):
            try:
                (event,) = verify_lines([line], sign_key=card.sign_key, vault_id=self.vault_id,
                                        actor=log, log=log, start_seq=start + offset, prev=prev)
                if log == self.owner_card.id:
                    state.apply_owner(st, event)
                else:
                    state.apply_member(st, event)
            except IntegrityError as exc:
                problems.append(Problem("tampered", exc.message, log, start + offset))
                break
            accepted.append(event)
            prev = event.hash
        if accepted:
            fsutil.ensure_dir(self.mirror, self.disk)
            blob = b"".join(e.line for e in accepted)
            fsutil.append_line(self.mirror / f"{log}.jsonl", blob, self.disk)
            st["heads"][log] = {"seq": accepted[-1].seq, "hash": accepted[-1].hash,
                                "size": head.get("size", 0) + len(blob),
                                "last": len(accepted[-1].line)}
        return bool(accepted)

    def load(self) -> Loaded:
        """Bring the mirror up to date with the folder and return the verified state."""
        st = self._cached()
        problems: list[Problem] = []
        changed = self._ingest(st, self.owner_card.id, self.owner_card, problems)
        if st.get("owner") is None:
            raise IntegrityError("the vault has no valid genesis event", log=self.owner_card.id, seq=0)
        writers, unknown = self.folder.sources()
        for path in unknown:
            problems.append(Problem("unknown-file", f"unexpected file in logs/: {path.name}",
                                    fatal=False))
        for log in sorted(writers):
            if log == st["owner"]:
                continue
            member = st["members"].get(log)
            if member is None:
                problems.append(Problem("unknown-log", "a log from someone who is not a member is "
                                        "ignored", log, fatal=False))
                continue
            changed |= self._ingest(st, log, Card.from_envelope(member["card"]), problems)
        if changed:
            self._save(st)
        return Loaded(st, problems)

    # --- writing ------------------------------------------------------------------------------

    def append(self, identity: Identity, type_: str, body: dict[str, Any]) -> Loaded:
        """Lock, bring state up to date, append one signed event to my log, fsync; return state."""
        with fsutil.locked(self.lock_path):
            loaded = self.load()
            mine = [p for p in loaded.fatal if p.log in (identity.id, self.owner_card.id)]
            if mine:
                raise IntegrityError(f"refusing to write: {mine[0]}",
                                     hint="run 'takusu doctor' to see and repair the vault folder")
            self._append_locked(identity, type_, body, loaded.state)
            return loaded

    def _append_locked(self, identity: Identity, type_: str, body: dict[str, Any],
                       st: dict[str, Any]) -> Event:
        log = identity.id
        path = self.folder.log_path(log)
        head = st["heads"].get(log, {})
        self._drop_torn_tail(path, head.get("size", 0))
        heads = {k: {"seq": v["seq"], "hash": v["hash"]} for k, v in st["heads"].items()}
        if log == self.owner_card.id:
            body = {**body, "seen": {k: v for k, v in heads.items() if k != log}}
        elif self.owner_card.id in heads:
            body = {**body, "owner_head": heads[self.owner_card.id]}
        event = make_event(identity, self.vault_id, head.get("seq", -1) + 1, head.get("hash"),
                           now_utc(), type_, body)
        if log == self.owner_card.id:
            state.apply_owner(st, event)  # refuse an invalid event before it is written
        else:
            state.apply_member(st, event)
        fsutil.append_line(path, event.line, self.disk)
        fsutil.ensure_dir(self.mirror, self.disk)
        fsutil.append_line(self.mirror / f"{log}.jsonl", event.line, self.disk)
        st["heads"][log] = {"seq": event.seq, "hash": event.hash,
                            "size": head.get("size", 0) + len(event.line), "last": len(event.line)}
        self._save(st)
        return event

    def _drop_torn_tail(self, path: Path, size: int) -> None:
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
            raise IntegrityError("my own log holds events this machine did not write",
                                 log=path.stem)
        quarantine = self.local / "quarantine"
        fsutil.ensure_dir(quarantine, self.disk)
        fsutil.atomic_write(quarantine / f"{path.stem}.{size}.torn", tail, self.disk)
        try:
            os.truncate(path, size)
        except OSError as exc:
            raise StorageError(f"cannot repair the torn end of {path}: {exc.strerror}") from exc

    # --- full checks (audit verify, doctor) ---------------------------------------------------

    def mirror_events(self, log: str) -> list[dict[str, Any]]:
        """Payloads of a log as this machine verified and mirrored them, in order."""
        from .events import split_line

        try:
            data = fsutil.read_bytes(self.mirror / f"{log}.jsonl", labels.MAX_LOG)
        except FileNotFoundError:
            return []
        lines, _ = split_complete(data)
        out = []
        for seq, line in enumerate(lines):
            payload, _sig = split_line(line, log, seq)
            fields = loads(payload)
            fields["_hash"] = crypto_hash(payload)
            out.append(fields)
        return out

    def verify_folder_log(self, log: str, card: Card, problems: list[Problem]) -> list[Event]:
        """Verify a whole log in the folder from seq 0 and compare it with the mirror."""
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
            problems.append(Problem("torn", "the log's last line is incomplete", log, len(lines),
                                    fatal=False))
        events: list[Event] = []
        prev = None
        for seq, line in enumerate(lines):
            try:
                (event,) = verify_lines([line], sign_key=card.sign_key, vault_id=self.vault_id,
                                        actor=log, log=log, start_seq=seq, prev=prev)
            except IntegrityError as exc:
                problems.append(Problem("tampered", exc.message, log, seq))
                break
            events.append(event)
            prev = event.hash
        mirrored = self.mirror_events(log)
        for seq, fields in enumerate(mirrored):
            if seq >= len(events):
                if len(lines) <= seq:
                    problems.append(Problem("rollback", "the folder's log is shorter than what "
                                            "this machine accepted", log, seq))
                break
            if events[seq].hash != fields["_hash"]:
                problems.append(Problem("rewritten", "an event differs from the one this machine "
                                        "accepted", log, seq))
                break
        return events
