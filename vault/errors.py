"""The one error tree. Each error carries its user text, an optional hint and an exit code.

The CLI maps these to `takusu: error: …` / `takusu: hint: …` on stderr and the exit
code below; nothing else in takusu decides what a user sees for a failure.
Error messages never contain secret values.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_INTEGRITY = 3


class TakusuError(Exception):
    """Base: an expected failure with a one-line message for the user."""

    exit_code = EXIT_USER
    default_hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class UserError(TakusuError):
    """Something the user asked for cannot be done as asked."""


class UsageError(TakusuError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class NotInitialized(UserError):
    default_hint = "run 'takusu init --name YOUR NAME' first"


class AlreadyExists(UserError):
    pass


class NotFound(UserError):
    pass


class Ambiguous(UserError):
    pass


class NoVault(UserError):
    default_hint = "create one with 'takusu vault create PATH' or pass --vault NAME|PATH"


class WrongPassphrase(UserError):
    pass


class PassphraseUnavailable(UserError):
    pass


class KeyringUnavailable(UserError):
    pass


class BadRecoveryCode(UserError):
    pass


class BadInput(UserError):
    """A value given by the user (a TOTP seed, a date, a length) is not valid."""


class NotOwner(UserError):
    default_hint = "only the vault's owner can change it"


class NotShared(UserError):
    pass


class AccessRevoked(UserError):
    pass


class GrantExpired(UserError):
    pass


class SafetyCodeMismatch(UserError):
    default_hint = "do not add this card: ask the sender for their code by phone or video"


class NotConfirmed(UserError):
    pass


class BadImport(UserError):
    """An import source that cannot be read as its format (damaged, encrypted, wrong kind)."""


class StorageError(UserError):
    """The disk refused: a failed write, fsync, lock or a read-only folder."""


class IntegrityError(TakusuError):
    """Something on disk is not what was signed or pinned: treat as tampering."""

    exit_code = EXIT_INTEGRITY

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        log: str | None = None,
        seq: int | None = None,
    ) -> None:
        place = ""
        if log is not None:
            place = f" (log {log}" + (f", seq {seq})" if seq is not None else ")")
        super().__init__(message + place, hint)
        self.reason = message
        self.log = log
        self.seq = seq


class BadCard(IntegrityError):
    """A card that does not verify or carries an unacceptable key."""


class BadSignature(IntegrityError):
    pass


class BrokenChain(IntegrityError):
    pass


class Malformed(IntegrityError):
    pass


class UnknownVersion(IntegrityError):
    pass


class DecryptionFailed(IntegrityError):
    pass


class RolledBack(IntegrityError):
    default_hint = (
        "run 'takusu doctor' to see what changed; the local mirror still holds the newer state"
    )


class Forked(IntegrityError):
    pass


class PinMismatch(IntegrityError):
    default_hint = (
        "a key you confirmed earlier has changed: do not trust this until you re-verify in person"
    )


class KeyFileUnsafe(IntegrityError):
    pass
