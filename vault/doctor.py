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
from .i18n import _, ngettext
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
        health.lines.append(_("identity: none on this machine ('takusu init')"))
        return
    card = takusu.card()
    mode = ks.mode()
    key_mode = stat.S_IMODE(os.lstat(ks.path).st_mode)
    health.lines.append(
        _("identity: {name} ({id}), suite {suite}").format(
            name=card.name, id=card.id[:8], suite=card.suite
        )
    )
    if key_mode & 0o077 == 0:
        line = _("key file: {path} mode {mode}")
    else:
        line = _("key file: {path} mode {mode}  UNSAFE: readable by others")
    health.lines.append(line.format(path=ks.path, mode=oct(key_mode)))
    if key_mode & 0o077:
        health.problems.append(Problem(Kind.KEY_FILE_MODE, _("the key file is readable by others")))
    backend = takusu.keyring_backend()
    name = type(backend).__module__ + "." + type(backend).__name__ if backend else _("none")
    if mode == "keyring":
        line = _("key held by: the OS keyring; secure keyring here: {backend}")
    else:
        line = _("key held by: a passphrase (Argon2id); secure keyring here: {backend}")
    health.lines.append(line.format(backend=name))
    if not takusu.has_recovery_kit():
        health.hints.append(
            _(
                "you have no recovery kit: without one a lost machine means a lost "
                "vault; run 'takusu recovery-kit FILE'"
            )
        )


def vault_health(sess: Session, health: Health) -> None:
    st = sess.state
    folder = sess.store.folder.path
    if sess.is_owner:
        line = _("vault: {name} ({id}) at {folder}, owner {owner}, you are the owner")
    else:
        line = _("vault: {name} ({id}) at {folder}, owner {owner}, you are a member")
    health.lines.append(
        line.format(
            name=sess.entry["name"],
            id=sess.vault_id[:8],
            folder=folder,
            owner=sess.owner_card.name,
        )
    )
    # The full pass (every line of every log from seq 0, witnesses, receipts), not only
    # what arrived since this machine's heads: doctor is where damage to old events shows.
    problems = _dedupe(verify(sess.store, sess.loaded).problems)
    names: dict[str, Any] = {m: v["name"] for m, v in st["members"].items()}
    names[sess.owner_id] = _("{name} (owner)").format(name=sess.owner_card.name)
    for log, head in sorted(st["heads"].items(), key=lambda kv: kv[0] != sess.owner_id):
        mine = [p for p in problems if p.log == log]
        status = _("ok") if not mine else "; ".join(p.kind for p in mine)
        count = head["seq"] + 1
        line = ngettext(
            "  log {log} {name} {count} event  {status}",
            "  log {log} {name} {count} events  {status}",
            count,
        )
        health.lines.append(
            line.format(
                log=log[:12],
                name=f"{names.get(log, '?'):<24}",
                count=f"{count:>6}",
                status=status,
            )
        )
    for quarantined in sess.store.mirror.quarantined():
        health.lines.append(_("  quarantined: {path}").format(path=quarantined))
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
        health.lines.append(_("vault: {message}").format(message=exc.message))
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
