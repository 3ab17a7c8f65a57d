"""What can be found wrong with a vault, with its place, and what a load returns.

`Kind` is the closed set of problem kinds; each has one sentence for people in
`SENTENCES` (a test checks that none is missing). A `Problem` is one finding: its kind,
the detail, the log and sequence number where it is, and whether it is fatal
(tampering: commands that would build on it refuse) or a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .. import i18n
from ..i18n import N_, _
from ..state import State


class Kind(StrEnum):
    """Every kind of problem takusu reports about a vault folder or this machine."""

    # the folder's files
    UNKNOWN_FILE = "unknown-file"
    UNKNOWN_LOG = "unknown-log"
    UNREADABLE = "unreadable"
    OVERSIZE = "oversize"
    GIT_CONFLICT = "git-conflict"
    BAD_COPY = "bad-copy"
    COPIES = "copies"
    # a log compared with what this machine accepted
    MISSING = "missing"
    ROLLBACK = "rollback"
    REWRITTEN = "rewritten"
    TRUNCATED = "truncated"
    BEHIND = "behind"
    TORN = "torn"
    FORK = "fork"
    # what the events say
    TAMPERED = "tampered"
    INVALID_OWNER_EVENT = "invalid-owner-event"
    MEMBER_STATE_CHANGE = "member-state-change"
    MALFORMED_RECEIPT = "malformed-receipt"
    UNKNOWN_WITNESS = "unknown-witness"
    RECEIPT_WITHOUT_GRANT = "receipt-without-grant"
    RETRIEVED_AFTER_EXPIRY = "retrieved-after-expiry"
    POLICY_BREACH = "policy-breach"
    # this machine
    CACHE = "cache"
    KEY_FILE_MODE = "key-file-mode"


SENTENCES: dict[Kind, str] = {
    Kind.UNKNOWN_FILE: N_("A file in the vault's logs folder is not a takusu log; it is ignored."),
    Kind.UNKNOWN_LOG: N_("A log from someone who is not a member is ignored."),
    Kind.UNREADABLE: N_("A log cannot be read (a permission problem, a link or not a file)."),
    Kind.OVERSIZE: N_("A log is larger than takusu accepts; it is not read."),
    Kind.GIT_CONFLICT: N_("A log holds git conflict markers: a merge went wrong."),
    Kind.BAD_COPY: N_("A sync-conflict copy of a log does not verify; it is not used."),
    Kind.COPIES: N_("Sync-conflict copies of logs are piling up in the folder."),
    Kind.MISSING: N_("A log this machine accepted is gone from the folder."),
    Kind.ROLLBACK: N_("A log is shorter than what this machine accepted (truncated or restored)."),
    Kind.REWRITTEN: N_("An event this machine accepted has been changed."),
    Kind.TRUNCATED: N_("An event the owner saw is missing from a member's log."),
    Kind.BEHIND: N_("A log has not caught up with events others have seen (a sync delay?)."),
    Kind.TORN: N_("A log ends with an incomplete line (an interrupted write); it is ignored."),
    Kind.FORK: N_("Two different valid events share one place in a log: the log has forked."),
    Kind.TAMPERED: N_("An event does not verify: its signature, link or content is wrong."),
    Kind.INVALID_OWNER_EVENT: N_("An owner event breaks the vault's rules."),
    Kind.MEMBER_STATE_CHANGE: N_(
        "A member wrote an event only the owner may write; it is ignored."
    ),
    Kind.MALFORMED_RECEIPT: N_(
        "A member's retrieval record is not in takusu's shape; it is ignored."
    ),
    Kind.UNKNOWN_WITNESS: N_("A member's record names an owner event this machine has not seen."),
    Kind.RECEIPT_WITHOUT_GRANT: N_("A retrieval names no access that was valid at that time."),
    Kind.RETRIEVED_AFTER_EXPIRY: N_("A retrieval is dated after its access expired."),
    Kind.POLICY_BREACH: N_(
        "A retrieval broke the owner's policy (no reason, or outside the hours)."
    ),
    Kind.CACHE: N_("This machine's cache was damaged and has been rebuilt."),
    Kind.KEY_FILE_MODE: N_("This machine's key file is readable by other users."),
}


def sentence(kind: Kind) -> str:
    """The sentence for people about `kind`, in the reader's language."""
    return i18n._(SENTENCES[kind])


@dataclass
class Problem:
    """Something wrong with the folder, with its place. `fatal` ones are tampering."""

    kind: Kind
    message: str
    log: str | None = None
    seq: int | None = None
    fatal: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):  # a closed set: a new kind needs its sentence
            raise TypeError(f"problem kind {self.kind!r} is not a Kind")

    def __str__(self) -> str:
        """The message (already in the reader's language) with its place."""
        if not self.log:
            return self.message
        if self.seq is None:
            return _("{message} (log {log})").format(message=self.message, log=self.log[:12])
        return _("{message} (log {log}, seq {seq})").format(
            message=self.message, log=self.log[:12], seq=self.seq
        )


@dataclass
class Loaded:
    """The verified state of a vault and what was found wrong on the way."""

    state: State
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]
