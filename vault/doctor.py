"""Health of this machine's identity and of a vault folder; repair from the verified mirror.

Repair only ever copies verified bytes from this machine's mirror into the folder,
never the other way round.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from .audit import verify
from .errors import TakusuError
from .machine import Machine
from .session import Session
from .store import Kind, Problem
from .store.repair import Repaired


@dataclass
class Health:
    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)


def identity_health(takusu: Machine, health: Health) -> None:
    ks = takusu.keystore
    if not ks.exists():
        health.lines.append("identity: none on this machine ('takusu init')")
        return
    card = takusu.card()
    mode = ks.mode()
    key_mode = stat.S_IMODE(os.lstat(ks.path).st_mode)
    health.lines.append(f"identity: {card.name} ({card.id[:8]}), suite {card.suite}")
    health.lines.append(
        f"key file: {ks.path} mode {oct(key_mode)}"
        + ("" if key_mode & 0o077 == 0 else "  UNSAFE: readable by others")
    )
    if key_mode & 0o077:
        health.problems.append(Problem(Kind.KEY_FILE_MODE, "the key file is readable by others"))
    backend = takusu.keyring_backend()
    held = "the OS keyring" if mode == "keyring" else "a passphrase (Argon2id)"
    health.lines.append(
        f"key held by: {held}; secure keyring here: "
        f"{type(backend).__module__ + '.' + type(backend).__name__ if backend else 'none'}"
    )
    if not takusu.has_recovery_kit():
        health.hints.append(
            "you have no recovery kit: without one a lost machine means a lost "
            "vault; run 'takusu recovery-kit FILE'"
        )


def vault_health(sess: Session, health: Health) -> None:
    st = sess.state
    folder = sess.store.folder.path
    health.lines.append(
        f"vault: {sess.entry['name']} ({sess.vault_id[:8]}) at {folder}, "
        f"owner {sess.owner_card.name}, you are "
        f"{'the owner' if sess.is_owner else 'a member'}"
    )
    # The full pass (every line of every log from seq 0, witnesses, receipts), not only
    # what arrived since this machine's heads: doctor is where damage to old events shows.
    problems = _dedupe(verify(sess.store, sess.loaded).problems)
    names: dict[str, Any] = {m: v["name"] for m, v in st["members"].items()}
    names[sess.owner_id] = f"{sess.owner_card.name} (owner)"
    for log, head in sorted(st["heads"].items(), key=lambda kv: kv[0] != sess.owner_id):
        mine = [p for p in problems if p.log == log]
        status = "ok" if not mine else "; ".join(p.kind for p in mine)
        health.lines.append(
            f"  log {log[:12]} {names.get(log, '?'):<24} {head['seq'] + 1:>6} events  {status}"
        )
    for quarantined in sess.store.mirror.quarantined():
        health.lines.append(f"  quarantined: {quarantined}")
    health.problems.extend(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.kind, p.log, p.seq)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check(takusu: Machine, selector: str | None) -> Health:
    health = Health()
    identity_health(takusu, health)
    try:
        sess = takusu.session(selector)
    except TakusuError as exc:
        health.lines.append(f"vault: {exc.message}")
        return health
    vault_health(sess, health)
    return health


def repair(sess: Session) -> Repaired:
    """Restore damaged, missing or shortened logs in the folder from the verified mirror."""
    return sess.store.repair()


def accept_rollback(sess: Session) -> Repaired:
    """Owner: put the newest verified state back into the folder and log that it happened."""
    sess.require_owner()
    before = [str(p) for p in sess.loaded.problems if p.fatal]
    done = sess.store.repair()
    sess.reload()
    sess.append("rollback.accept", {"detail": before[:20], "restored": done.fixed})
    return done
