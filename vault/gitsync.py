"""`takusu sync` for a vault folder that is a git work tree.

Each person writes only their own log file, so commits from different people never
conflict: commit my log, pull with rebase, verify what arrived (the store's pins catch
a force-pushed rollback), push. git runs with a minimal environment.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IntegrityError, StorageError, UserError
from .i18n import _
from .session import Session

_KEEP_ENV = ("PATH", "HOME", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "XDG_CONFIG_HOME")


@dataclass
class SyncResult:
    committed: bool = False
    pulled: bool = False
    pushed: bool = False
    notes: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update(LANG="C", LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    return env


def git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise UserError(_("git is not installed")) from None
    except subprocess.TimeoutExpired:
        raise StorageError(_("git {command} took too long").format(command=args[0])) from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        if not detail:
            raise StorageError(_("git {command} failed").format(command=args[0]))
        raise StorageError(
            _("git {command} failed: {detail}").format(command=args[0], detail=detail[0])
        )
    return result


def _commit_verified(sess: Session, folder: Path, who: tuple[str, ...]) -> bool:
    """Commit my log, vault.json (owner), and every log whose bytes extend what this machine
    verified (a log `doctor --repair` put back, or newer events of someone who shares this
    work tree). Returns whether a commit was made."""
    paths = [f"logs/{sess.me.id}.jsonl"]
    if sess.is_owner:
        paths += ["vault.json", ".gitattributes"]
    for log in sess.state["heads"]:
        path = sess.store.folder.log_path(log)
        if log != sess.me.id and path.exists():
            if path.read_bytes().startswith(sess.store.mirror.read(log)):
                paths.append(f"logs/{log}.jsonl")
    present = [p for p in paths if (folder / p).exists()]
    if present:
        git(folder, "add", "--", *present)
    if git(folder, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return False
    mine = sess.state["heads"].get(sess.me.id)
    head = mine["seq"] if mine else -1
    message = f"takusu: the log of {sess.me.card.name} up to event {head}"  # git's, not ours
    git(folder, *who, "commit", "--quiet", "-m", message)
    return True


def _commit_and_pull(sess: Session, folder: Path, who: tuple[str, ...], result: SyncResult) -> bool:
    """Commit my log, then pull --rebase (committing again if someone sharing this work
    tree appended meanwhile). False when there is no upstream to pull from."""
    upstream = git(folder, "rev-parse", "--abbrev-ref", "@{upstream}", check=False)
    for attempt in range(3):
        result.committed |= _commit_verified(sess, folder, who)
        if upstream.returncode != 0:
            result.notes.append(_("no upstream branch: nothing pulled or pushed"))
            return False
        pulled = git(folder, *who, "pull", "--rebase", "--quiet", check=False)
        if pulled.returncode == 0:
            result.pulled = True
            return True
        git(folder, "rebase", "--abort", check=False)
        # Someone appended to a log in this work tree between our commit and the pull:
        # commit that too and try again.
        if "commit or stash" not in pulled.stderr or attempt == 2:
            raise StorageError(
                _("git pull --rebase failed; nothing was changed locally"),
                hint=(pulled.stderr.strip().splitlines() or [""])[-1],
            )
        sess.reload()
    return False


def sync(sess: Session) -> SyncResult:
    """Commit my log, pull --rebase, verify, push. Returns what happened."""
    folder = sess.store.folder.path
    if git(folder, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise UserError(
            _("{folder} is not a git work tree").format(folder=folder),
            hint=_("takusu sync is for vault folders kept in git; others sync themselves"),
        )
    result = SyncResult()
    # A sync killed mid-rebase leaves the rebase half done: every later pull would fail.
    git_dir = Path(git(folder, "rev-parse", "--absolute-git-dir").stdout.strip())
    if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
        git(folder, "rebase", "--abort", check=False)
        result.notes.append(_("an interrupted earlier sync was rolled back first"))
    # Commits and rebases need an identity; git's own config may have none on this machine.
    who = (
        "-c",
        f"user.name={sess.me.card.name}",
        "-c",
        f"user.email={sess.me.id[:16]}@takusu.invalid",
    )
    if not _commit_and_pull(sess, folder, who, result):
        return result
    sess.reload()  # verify what arrived before publishing anything
    # Only damage in the owner's log or my own blocks a push (as it blocks an append):
    # someone else's damaged log is theirs to mend, and must not stop me publishing mine
    # (a revocation that never reaches the remote protects no one).
    blocking = [p for p in sess.loaded.fatal if p.log in (sess.owner_id, sess.me.id)]
    if blocking:
        raise IntegrityError(
            _("not pushed: what was pulled does not verify: {problem}").format(problem=blocking[0]),
            hint=_(
                "'takusu doctor' shows more; 'takusu doctor --repair' then 'takusu sync' "
                "puts the verified history back"
            ),
        )
    for problem in sess.loaded.fatal:
        result.notes.append(
            _("pushed anyway, but another log has a problem: {problem}").format(problem=problem)
        )
    git(folder, "push", "--quiet")
    result.pushed = True
    return result
