"""The one clock: the current time, the stored time format, expiries.

Every record stores UTC as `YYYY-MM-DDTHH:MM:SSZ`. Code that needs the time takes a
`Clock` (a callable returning an aware datetime) so tests can move time by passing
their own; nothing else in takusu calls `datetime.now`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo

from .errors import BadInput, UsageError
from .i18n import _

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


# What `stamp` writes, ASCII digits in place: read by slicing (strptime, about ten times
# slower, goes through a regular expression and a locale lookup on every call, and an
# audit of 10,000 items parses twice as many times).
_WRITTEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def parse_time(text: str) -> datetime:
    """A stored time string back as an aware datetime; ValueError if it is not one."""
    if type(text) is str and len(text) == 20 and _WRITTEN.fullmatch(text):
        try:
            return datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
                tzinfo=UTC,
            )
        except ValueError:
            pass  # out of range (a 13th month, a 61st second): strptime says so, as before
    # Anything else is read as before, by the format (strptime also takes what `stamp`
    # never writes, such as a lower-case t or z, and says why it refuses the rest).
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


_UNITS = {
    "min": "minutes", "分": "minutes",
    "h": "hours", "時間": "hours",
    "d": "days", "日": "days",
    "w": "weeks", "週間": "weeks", "週": "weeks",
    "mo": "months", "ヶ月": "months", "か月": "months", "カ月": "months", "ケ月": "months",
    "y": "years", "年": "years",
}  # fmt: skip
_DURATION = re.compile(r"^(\d{1,4})\s*(min|mo|[hdwy]|分|時間|日|週間|週|[ヶかカケ]月|年)$")


def parse_duration(text: str) -> tuple[int, str]:
    """A duration typed by a person: `30min`, `12h`, `7d`, `2w`, `3mo`, `1y` or the Japanese
    `30分`, `12時間`, `7日`, `2週間`, `3ヶ月`, `1年` (full-width digits too) as (count, unit).
    A bare `3m` is refused: minutes or months?"""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower()
    match = _DURATION.fullmatch(cleaned)
    if match is None:
        if re.fullmatch(r"\d+\s*m", cleaned):
            raise BadInput(
                _("{text} could mean minutes or months").format(text=repr(text)),
                hint=_("write 30min for minutes or 3mo for months"),
            )
        raise BadInput(
            _("cannot read the duration {text}").format(text=repr(text)),
            hint=_("use 30min, 12h, 7d, 2w, 3mo or 1y (or 7日, 2週間, 3ヶ月)"),
        )
    return int(match[1]), _UNITS[match[2]]


def after(start: datetime, count: int, unit: str) -> datetime:
    """`start` plus a duration from parse_duration (months and years on the calendar)."""
    if unit in ("minutes", "hours", "days", "weeks"):
        return start + timedelta(**{unit: count})
    months = count * (12 if unit == "years" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    target = date(start.year + year, month + 1, 1)
    from calendar import monthrange  # imported here, as zoneinfo is: see local_zone

    day = min(start.day, monthrange(target.year, target.month)[1])
    return start.replace(year=target.year, month=target.month, day=day)


_DATE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}")


def _day_start(cleaned: str, zone: tzinfo | None) -> datetime | None:
    """Midnight, in `zone` (else the local zone), of a typed date (`2026-12-31`,
    `2026/12/31`); None when the text is not a date; ValueError when there is no such day."""
    if not _DATE.fullmatch(cleaned):
        return None
    year, month, day = (int(part) for part in re.split(r"[-/]", cleaned))
    return datetime(year, month, day, tzinfo=zone or local_zone())


def _in_utc(when: datetime, zone: tzinfo | None) -> datetime:
    """A typed time in UTC; one that names no zone is in `zone` (else the local zone)."""
    return when.replace(tzinfo=when.tzinfo or zone or local_zone()).astimezone(UTC)


def parse_when(text: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """A point in time typed by a person: a duration from now, a date (the end of that day
    in the local zone: `2026-12-31` or `2026/12/31`) or an RFC 3339 time."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    try:
        start = _day_start(cleaned, zone)
    except ValueError:
        raise BadInput(_("there is no date {text}").format(text=repr(text))) from None
    if start is not None:
        return (start + timedelta(days=1, seconds=-1)).astimezone(UTC)  # through 23:59:59
    if "T" in cleaned or " " in cleaned:
        try:
            when = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(_("cannot read the time {text}").format(text=repr(text))) from None
        return _in_utc(when, zone)
    count, unit = parse_duration(cleaned)
    return after(now, count, unit).astimezone(UTC)


def parse_expiry(text: str, now: datetime) -> str:
    """When a grant ends: a duration (`7d`, `12h`, `30min`, `2w`, `3mo`, `7日` …), a date
    (valid through that day, local time) or an RFC 3339 time; the stored time string."""
    try:
        when = parse_when(text, now)
    except BadInput as exc:
        raise BadInput(
            _("cannot read the expiry {text}: {reason}").format(
                text=repr(text), reason=exc.message
            ),
            hint=exc.hint or _("use a duration like 7d, 12h, 2w or a date like 2026-12-31"),
        ) from None
    if when <= now:
        raise BadInput(_("the expiry is in the past"))
    return stamp(when)


def parse_since(text: str, zone: tzinfo | None = None, now: datetime | None = None) -> datetime:
    """A `--since` value: a date (`2026-12-01` or `2026/12/01`: the start of that day in the
    local zone), an RFC 3339 time (local time when it names no zone), or a duration back
    from now (`7d`, `2w`, `3mo`, `12時間`)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if _DURATION.fullmatch(cleaned.lower()):
        count, unit = parse_duration(cleaned)
        return after(now or system_clock(), -count, unit).astimezone(UTC)
    try:
        start = _day_start(cleaned, zone)
        if start is not None:
            return start.astimezone(UTC)
        when = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            _("cannot read the date {text}").format(text=repr(text)),
            hint=_("write it like 2026-12-01, 2026/12/01 or 7d"),
        ) from None
    return _in_utc(when, zone)


_SHOWN = {"utc": False}  # `takusu --utc`: times shown in UTC for this command


def show_utc(flag: bool) -> None:
    """Show times in UTC (`--utc`) or in the local zone (the default), for this command."""
    _SHOWN["utc"] = flag


def shown_stamp(stamp: object) -> str:
    """A recorded time string as people read it (local, with the offset; see shown_time),
    or the value as it is when it is not a recorded time."""
    return shown_time(parse_time(str(stamp))) if is_stamp(stamp) else str(stamp)


def local_zone() -> tzinfo:
    """The zone times are shown in: UTC with --utc, else TZ, else the system's zone (by
    name where it can be found, so a date in summer time gets its own offset)."""
    if _SHOWN["utc"]:
        return UTC
    # Imported where it is used: `zoneinfo` (with `sysconfig`, to find the zone files) and
    # `calendar` cost every command about 8 ms, and most show no time at all.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for name in (os.environ.get("TZ", "").lstrip(":"), _system_zone_name()):
        if name:
            try:
                return ZoneInfo(name)
            except (ValueError, OSError, ZoneInfoNotFoundError):
                continue
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def zone_key() -> str:
    """What decides the zone `local_zone` shows times in (for keeping text made with it)."""
    return "--utc" if _SHOWN["utc"] else f"{os.environ.get('TZ', '')}|{_system_zone_name()}"


def _system_zone_name() -> str:
    """The system zone's IANA name from /etc/localtime's link, or "" if it has none."""
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return ""
    _, sep, name = target.partition("zoneinfo/")
    return name if sep else ""


def shown_time(when: datetime, zone: tzinfo | None = None) -> str:
    """A time as people read it: local, with its offset (`2026-12-01 16:07 (+09:00)`)."""
    local = when.astimezone(zone or local_zone())
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} ({offset[:3]}:{offset[3:]})"
