"""Trusting a new key: the safety-code comparison behind `member add` and `vault open`.

Two people compare a short code by phone or video before either trusts the other's card.
The comparison is never skipped: either the person confirms the code shown (a callable the
caller passes in, so the library never touches a terminal) or a code given in advance
(`--safety-code`) must equal it.
"""

from __future__ import annotations

from collections.abc import Callable

from . import crypto
from .errors import NotConfirmed, SafetyCodeMismatch
from .i18n import _
from .identity import Card, normalize_code
from .session import Session
from .sharing import add_member, check_new_member

Confirm = Callable[[str, str], bool]  # (who, safety code) -> the person says it matched
Show = Callable[[str], None]  # one line of information for the person deciding


def check_safety_code(card: Card, given: str | None, confirm: Confirm | None, who: str) -> None:
    """Go on only if the person confirmed the code, or `given` equals it. Never skipped."""
    if given is not None:
        if not crypto.equal(normalize_code(given), normalize_code(card.safety_code)):
            raise SafetyCodeMismatch(
                _("the safety code given does not match the card of {name}").format(name=who)
            )
        return
    if confirm is None:
        raise NotConfirmed(
            _("the safety code of {name} was not confirmed").format(name=who),
            hint=_(
                "compare it by phone or video, then pass --safety-code CODE (or run in a terminal)"
            ),
        )
    if not confirm(who, card.safety_code):
        raise NotConfirmed(_("not confirmed; nothing was changed"))


def trust_new_member(
    session: Session,
    card: Card,
    name: str,
    given: str | None,
    confirm: Confirm | None,
    show: Show,
) -> None:
    """The member-add sequence for a verified card (`Card.from_armor`, read before anything
    is unlocked): check it against the vault's pins, show whose it is, compare the safety
    code, and only then add (pin) the member."""
    check_new_member(session, card, name)
    show(_("Card of {card!r}, to be added as {name!r}.").format(card=card.name, name=name))
    check_safety_code(card, given, confirm, card.name)
    add_member(session, card, name)
