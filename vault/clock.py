"""The one clock: the current time, the stored time format, expiries.

Every record stores UTC as `YYYY-MM-DDTHH:MM:SSZ`. Code that needs the time takes a
`Clock` (a callable returning an aware datetime) so tests can move time by passing
their own; nothing else in takusu calls `datetime.now`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .errors import BadInput, UsageError

Clock = Callable[[], datetime]
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """An aware datetime as the RFC 3339 UTC string every takusu record uses."""
    return when.astimezone(UTC).strftime(STAMP)


def now_utc(clock: Clock = system_clock) -> str:
    """The current time as a stored time string."""
    return stamp(clock())


def parse_time(text: str) -> datetime:
    """A stored time string back as an aware datetime; ValueError if it is not one."""
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def is_stamp(value: object) -> bool:
    """True for a string in the stored time format (what a signed time field must hold)."""
    if not isinstance(value, str) or len(value) != 20:
        return False
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def is_expired(expires: str | None, now: datetime) -> bool:
    """The one expiry rule: a grant with an expiry at or before `now` no longer stands."""
    return bool(expires) and parse_time(str(expires)) <= now


_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")


def parse_expiry(text: str, now: datetime) -> str:
    """'7d', '12h', '30m', '2w', a date (valid through that day, UTC) or an RFC 3339 time."""
    text = text.strip()
    match = _DURATION.match(text)
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
        when = now + timedelta(**{unit: int(match[1])})
    else:
        try:
            if "T" in text:
                when = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
            else:
                when = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
        except ValueError:
            raise BadInput(
                f"cannot read the expiry {text!r}",
                hint="use a duration like 7d, 12h, 2w or a date like 2026-12-31",
            ) from None
    if when <= now:
        raise BadInput("the expiry is in the past")
    return stamp(when)


def parse_since(text: str) -> datetime:
    """A `--since` value: a date (`2026-12-01`) or an RFC 3339 time; UTC when no zone."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot read the date {text!r}") from None
    return when.replace(tzinfo=when.tzinfo or UTC)
