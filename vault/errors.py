"""The one error tree. Each error carries its user text, an optional hint and an exit code.

The CLI maps these to `takusu: error: …` / `takusu: hint: …` on stderr and the exit
code below; nothing else in takusu decides what a user sees for a failure.
Error messages never contain secret values.
"""

from __future__ import annotations

from . import i18n
from .i18n import N_, _

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
        if hint is None and self.default_hint is not None:
            hint = i18n._(self.default_hint)  # marked with N_ below, shown in the reader's language
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(TakusuError):
    """Something the user asked for cannot be done as asked (exit 1)."""


class UsageError(TakusuError):
    """The command line itself is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class NotInitialized(UserError):
    """No identity on this machine yet (before `takusu init`)."""

    default_hint = N_("run 'takusu init --name YOUR NAME' first")


class AlreadyExists(UserError):
    """Creating what already exists: an identity, a vault name, a member, a file."""


class NotFound(UserError):
    """No item, field or member by that name (for this identity)."""


class Ambiguous(UserError):
    """A name or prefix matches several items or vaults."""


class NoVault(UserError):
    """No vault selected, registered, or present at a path."""

    default_hint = N_("create one with 'takusu vault create PATH' or pass --vault NAME|PATH")


class WrongPassphrase(UserError):
    """The passphrase does not open this machine's key file."""


class PassphraseUnavailable(UserError):
    """A passphrase is needed and there is no way to ask for one."""


class KeyringUnavailable(UserError):
    """The OS keyring is missing, insecure, locked, or lost this identity's key."""


class BadRecoveryCode(UserError):
    """A recovery code that is mistyped or does not open its kit."""


class BadInput(UserError):
    """A value given by the user (a TOTP seed, a date, a length) is not valid."""


class NotOwner(UserError):
    """A member asked for something only the vault's owner may do."""

    default_hint = N_("only the vault's owner can change it")


class NotShared(UserError):
    """The item exists but is not shared with this member."""


class AccessRevoked(UserError):
    """This member's access was revoked (or changed while being used)."""


class PolicyRefused(UserError):
    """The vault's owner set a policy (a reason, working hours) this retrieval breaks."""


class NoCodeNow(UserError):
    """No 2FA code is delivered for this moment (outside the hours, or the codes ran out)."""


class GrantExpired(UserError):
    """This member's access to the item has expired."""


class SafetyCodeMismatch(UserError):
    """The safety code given does not match the card's."""

    default_hint = N_("do not add this card: ask the sender for their code by phone or video")


class NotConfirmed(UserError):
    """The safety code was not confirmed, so nothing was trusted."""


class BadImport(UserError):
    """An import source that cannot be read as its format (damaged, encrypted, wrong kind)."""


class StorageError(UserError):
    """The disk refused: a failed write, fsync, lock or a read-only folder."""


class IntegrityError(TakusuError):
    """Something on disk is not what was signed or pinned: treat as tampering (exit 3)."""

    exit_code = EXIT_INTEGRITY

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        log: str | None = None,
        seq: int | None = None,
    ) -> None:
        shown = message
        if log is not None and seq is not None:
            shown = _("{message} (log {log}, seq {seq})").format(message=message, log=log, seq=seq)
        elif log is not None:
            shown = _("{message} (log {log})").format(message=message, log=log)
        super().__init__(shown, hint)
        self.reason = message
        self.log = log
        self.seq = seq


class KeptDiffers(IntegrityError):
    """TAKUSU_CHECK_MEMO=1 (every test run) found bytes a long-lived process kept in memory
    standing for a file whose bytes differ: a fault of takusu's own, never passed over."""


class CacheDamaged(TakusuError):
    """An item of this machine's state cache did not parse when it was first asked for,
    though the file had the digest state.json names: this machine's own data, not a log's
    fault (`Store.load` rebuilds it from the verified mirror)."""

    exit_code = EXIT_INTEGRITY


class BadCard(IntegrityError):
    """A card that does not verify or carries an unacceptable key."""


class NoCard(BadCard):
    """The text holds no card at all (a wrong file, a truncated paste): the person's mistake,
    not tampering, so exit 1 like other bad input."""

    exit_code = EXIT_USER


class BadSignature(IntegrityError):
    """An event's signature does not verify under its writer's key."""


class BrokenChain(IntegrityError):
    """An event is out of place: another vault, writer, sequence number or link."""


class Malformed(IntegrityError):
    """Bytes that are not in takusu's format (JSON, base64, shape, size)."""


class UnknownVersion(IntegrityError):
    """A file or record of a format version this takusu does not know."""


class DecryptionFailed(IntegrityError):
    """A ciphertext or key wrap does not open (changed, or not for this key)."""


class PinMismatch(IntegrityError):
    """A key or owner confirmed earlier has changed: a hard stop."""

    default_hint = N_(
        "a key you confirmed earlier has changed: do not trust this until you re-verify in person"
    )


class KeyFileUnsafe(IntegrityError):
    """The private key file is readable by other users."""
