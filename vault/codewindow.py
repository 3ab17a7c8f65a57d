"""2FA code windows: working hours, the TOTP steps inside them, and when to top them up.

For a window grant the client never hands over the TOTP seed. Her takusu computes the code
of every time step inside the agreed hours for the next few days (`book_for`), packs them
(`codebook.pack`), and the secretary's takusu looks the current one up
(`CodeBook.code_at`). Pure: no clock and no I/O (except `local_zone_name`, which reads
`TZ` and `/etc/localtime`); every time is an aware datetime passed in.

A window is wall-clock time in an IANA zone: an instant is inside `Mon-Fri 09:00-18:00`
when the zone's clock shows a Monday-to-Friday time in [09:00, 18:00). So a 02:00-03:00
window on a spring-forward day has no steps, and a 01:00-02:00 window on a fall-back day
has two hours of them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from . import i18n, totp
from .codebook import CodeBook
from .errors import BadInput, Malformed
from .i18n import N_, _

TYPE_CHECKING = False
if TYPE_CHECKING:  # zoneinfo is imported where a zone is read (see clock.local_zone)
    from zoneinfo import ZoneInfo

MARGIN_STEPS = 1  # codes for one step either side of every window (clock skew)
MAX_DAYS = 31  # the longest horizon one delivery may cover
MAX_MARGIN = 10  # steps of clock-skew margin either side of a window
MAX_HOURS_TEXT = 500  # characters of an hours text
MAX_SPANS = 48  # time ranges in one day (after merging)
MIN_PERIOD, MAX_PERIOD = 10, 300  # what vault/totp.py accepts

DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_JA_DAYS = "月火水木金土日"
_DAY_MINUTES = 24 * 60
_HINT = N_('write days and times like "Mon-Fri 09:00-18:00" or "月-金 09:00-12:00, 13:00-18:00"')


def _hint() -> str:
    return i18n._(_HINT)


# After NFKC: full-width digits, colons, commas, tildes and spaces are already ASCII.
_SEPARATORS = str.maketrans({"、": ",", "・": ",", "〜": "-", "~": "-", "–": "-", "—": "-"})
_RANGE = r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})"
_ENTRY = re.compile(rf"^(.*?)\s*((?:{_RANGE}\s*)+)$")  # [DAYS] one or more ranges
_YOUBI = re.compile(r"曜日?")

Span = tuple[int, int]  # minutes from midnight, [start, end), 0 <= start < end <= 1440


@dataclass(frozen=True)
class Hours:
    """Working hours: for each weekday (Monday first), sorted, disjoint, non-touching spans."""

    days: tuple[tuple[Span, ...], ...]

    def describe(self) -> str:
        """The canonical text, e.g. "Mon-Fri 09:00-18:00"; parse_hours reads it back as is."""
        spans = sorted({span for day in self.days for span in day})
        entries: list[tuple[tuple[int, int, int], str]] = []
        for span in spans:
            members = [day for day in range(7) if span in self.days[day]]
            text = f"{_clock(span[0])}-{_clock(span[1])}"
            if len(members) == 7:
                # ranges for every day come first: a range without days means the days of
                # the entry before it, or every day when nothing came before
                entries.append(((0, 0, span[0]), text))
            else:
                entries.append(((1, members[0], span[0]), f"{_day_spec(members)} {text}"))
        return ", ".join(text for _key, text in sorted(entries))

    def to_json(self) -> list[list[list[int]]]:
        """Seven lists (Monday first) of [start, end] minutes: the signed-event form."""
        return [[[start, end] for start, end in day] for day in self.days]

    @classmethod
    def from_json(cls, obj: object) -> Hours:
        """Hours from `to_json`'s form; Malformed unless it is exactly such a value."""
        if not isinstance(obj, list) or len(obj) != 7:
            raise Malformed(_("the window hours are not a list of seven days"))
        days = tuple(_json_day(day) for day in obj)
        if not any(days):
            raise Malformed(_("the window hours hold no time at all"))
        return cls(days)


def _json_day(day: object) -> tuple[Span, ...]:
    if not isinstance(day, list) or len(day) > MAX_SPANS:
        raise Malformed(_("a day of the window hours is not a short list of spans"))
    spans: list[Span] = []
    previous_end = -1
    for span in day:
        if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
            raise Malformed(_("a span of the window hours is not two integers"))
        start, end = span
        # touching or overlapping spans would have been merged: refuse the non-canonical form
        if not previous_end < start < end <= _DAY_MINUTES:
            raise Malformed(_("the window hours' spans are out of range or out of order"))
        spans.append((start, end))
        previous_end = end
    return tuple(spans)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day_spec(members: list[int]) -> str:
    """Days as runs that may wrap past Sunday: [0, 1, 2, 4, 5, 6] is "Fri-Wed"."""
    present = set(members)
    runs: list[str] = []
    for first in range(7):
        if first in present and (first - 1) % 7 not in present:
            last = first
            while (last + 1) % 7 in present:
                last = (last + 1) % 7
            runs.append(DAY_ABBR[first] + ("" if last == first else f"-{DAY_ABBR[last]}"))
    return ",".join(runs)


def parse_hours(text: str) -> Hours:
    """Hours from text like "Mon-Fri 09:00-18:00, Sat 10:00-12:00"; BadInput naming the bad part.

    Entries are separated by commas; each is `[DAYS] HH:MM-HH:MM [HH:MM-HH:MM ...]`.
    DAYS are English (Mon, Tuesday, ...) or Japanese (月-金, 月水金, 土日曜) days, single,
    listed or as ranges that may wrap (Fri-Mon). A range without days applies to the days
    of the entry before it ("Mon-Fri 09:00-12:00, 13:00-18:00"), or to every day when it
    comes first. 24:00 ends a day. Overlapping or touching ranges are merged.
    """
    clean = unicodedata.normalize("NFKC", text).translate(_SEPARATORS).strip()
    if not clean:
        raise BadInput(_("the hours are empty"), hint=_hint())
    if len(clean) > MAX_HOURS_TEXT:
        raise BadInput(
            _("the hours are too long (at most {count} characters)").format(count=MAX_HOURS_TEXT)
        )
    spans: list[list[Span]] = [[] for _day in range(7)]
    listed: list[int] = []  # days of entries without a range yet: "Mon" in "Mon,Wed 09:00-12:00"
    current = list(range(7))
    for part in (piece.strip() for piece in clean.split(",")):
        if not part:
            continue  # "Mon-Fri 09:00-18:00," or "Mon,,Wed": a stray comma says nothing
        match = _ENTRY.match(part)
        if match is None:
            listed += _parse_days(part, part)
            continue
        if match[1] or listed:
            current = listed + (_parse_days(match[1], part) if match[1] else [])
        listed = []
        for clock in re.finditer(_RANGE, match[2]):
            start, end = _minute(clock[1], clock[2], part), _minute(clock[3], clock[4], part)
            if end <= start:
                raise BadInput(
                    _("in the hours {part} the end is not after the start").format(part=repr(part)),
                    hint=_hint(),
                )
            for day in current:
                spans[day].append((start, end))
    if listed:
        raise BadInput(
            _("the hours {hours} end with days but no times").format(hours=repr(clean)),
            hint=_hint(),
        )
    days = tuple(_merge(day) for day in spans)
    if not any(days):
        raise BadInput(_("the hours {hours} name no time").format(hours=repr(clean)), hint=_hint())
    if max(len(day) for day in days) > MAX_SPANS:
        raise BadInput(
            _("the hours have more than {count} ranges in one day").format(count=MAX_SPANS)
        )
    return Hours(days)


def _minute(hours: str, minutes: str, part: str) -> int:
    hour, minute = int(hours), int(minutes)
    if minute > 59:
        raise BadInput(
            _("in the hours {part} the minutes must be 00-59").format(part=repr(part)),
            hint=_hint(),
        )
    if hour > 24 or (hour == 24 and minute):
        raise BadInput(
            _("in the hours {part} {time} is beyond 24:00").format(
                part=repr(part), time=f"{hours}:{minutes}"
            ),
            hint=_hint(),
        )
    return hour * 60 + minute


def _parse_days(text: str, part: str) -> list[int]:
    """The weekdays (0 = Monday) of "Mon", "Fri-Mon", "月-金", "月水金"; BadInput otherwise."""
    bare = _YOUBI.sub("", text).strip()
    ends = [piece.strip() for piece in bare.split("-")]
    if len(ends) == 1 and len(bare) > 1 and all(ch in _JA_DAYS for ch in bare):
        return [_JA_DAYS.index(ch) for ch in bare]
    if len(ends) == 1:
        return [_day(ends[0], part)]
    if len(ends) != 2:
        raise BadInput(
            _("cannot read the days {days} in the hours {part}").format(
                days=repr(text), part=repr(part)
            ),
            hint=_hint(),
        )
    first, last = _day(ends[0], part), _day(ends[1], part)
    if first == last:
        raise BadInput(
            _("the days {days} start and end on the same day").format(days=repr(text)),
            hint=_hint(),
        )
    return [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]


def _day(name: str, part: str) -> int:
    if len(name) == 1 and name in _JA_DAYS:
        return _JA_DAYS.index(name)
    lower = name.lower()
    for index, full in enumerate(_DAY_NAMES):
        # "Mo", "Tues", "thu", "Saturday": any prefix of two letters or more is unambiguous
        if len(lower) >= 2 and full.startswith(lower):
            return index
    raise BadInput(
        _("cannot read the day {day} in the hours {part}").format(day=repr(name), part=repr(part)),
        hint=_hint(),
    )


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


# --- zones ----------------------------------------------------------------------------------------


def parse_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` (e.g. "Asia/Tokyo"); BadInput for an unknown one."""
    name = name.strip()
    hint = _("use a time zone name such as Asia/Tokyo, Europe/Berlin or America/New_York")
    if not name or len(name) > 64:
        raise BadInput(_("the time zone name is empty or too long"), hint=hint)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput(_("unknown time zone {zone}").format(zone=repr(name)), hint=hint) from None


def local_zone_name(
    environ: Mapping[str, str] | None = None,
    localtime: str = "/etc/localtime",
    timezone_file: str = "/etc/timezone",
) -> str:
    """This machine's IANA zone name from TZ, /etc/localtime or /etc/timezone; else "UTC"."""
    env = os.environ if environ is None else environ
    candidates = [_zone_path_name(env.get("TZ", "").lstrip(":"))]
    try:
        candidates.append(_zone_path_name(os.readlink(localtime)))
    except OSError:
        pass  # not a symlink (or absent): the name is not recorded there
    try:
        with open(timezone_file, encoding="utf-8") as handle:
            candidates.append(handle.read(100).strip())
    except (OSError, UnicodeDecodeError):
        pass
    for name in candidates:
        try:
            if name:
                parse_zone(name)
                return name
        except BadInput:
            continue
    return "UTC"


def _zone_path_name(path: str) -> str:
    """ "Europe/Berlin" from "/usr/share/zoneinfo/Europe/Berlin"; a bare name unchanged."""
    if not path.startswith("/"):
        return path
    _head, found, name = path.rpartition("zoneinfo/")
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    return name if found else ""


# --- steps ----------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_DAY_SECONDS = 86400
_UNIX_DAY_ZERO = date(1970, 1, 1)
_SCAN = 1800  # tzdata never changes a zone's offset twice within half an hour


def _floor_seconds(when: datetime) -> int:
    if when.utcoffset() is None:
        raise ValueError("code windows need aware datetimes")
    return (when - _EPOCH) // _SECOND


def _ceil_seconds(when: datetime) -> int:
    seconds = _floor_seconds(when)
    return seconds + (when != _EPOCH + seconds * _SECOND)


def _offset(zone: ZoneInfo, second: int) -> int:
    offset = datetime.fromtimestamp(second, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset // _SECOND


def _segments(zone: ZoneInfo, low: int, high: int) -> list[tuple[int, int, int]]:
    """[a, b) spans of unix seconds covering [low, high), each with its constant UTC offset."""
    segments: list[tuple[int, int, int]] = []
    begin, offset, second = low, _offset(zone, low), low
    while second < high:
        probe = min(second + _SCAN, high)
        if _offset(zone, probe) == offset:
            second = probe
            continue
        before, after = second, probe  # bisect to the first second of the new offset
        while after - before > 1:
            middle = (before + after) // 2
            before, after = (middle, after) if _offset(zone, middle) == offset else (before, middle)
        segments.append((begin, after, offset))
        begin, offset, second = after, _offset(zone, after), after
    segments.append((begin, high, offset))
    return segments


def _windows(hours: Hours, zone: ZoneInfo, low: int, high: int) -> list[tuple[int, int]]:
    """The [a, b) unix-second spans within [low, high) when the zone's clock is in `hours`."""
    pad = 2 * _DAY_SECONDS  # more than any UTC offset, so no window near the edges is missed
    segments = _segments(zone, low - pad, high + pad)
    first = (low - pad) // _DAY_SECONDS  # local calendar days, counted from 1970-01-01
    windows: list[tuple[int, int]] = []
    for number in range(first, (high + pad) // _DAY_SECONDS + 1):
        day = _UNIX_DAY_ZERO + timedelta(days=number)
        # the day's midnight as "wall seconds": unix seconds of the same clock reading in UTC
        midnight = number * _DAY_SECONDS
        for start, end in hours.days[day.weekday()]:
            for seg_start, seg_end, offset in segments:
                begin = max(midnight + start * 60 - offset, seg_start, low)
                finish = min(midnight + end * 60 - offset, seg_end, high)
                if begin < finish:
                    windows.append((begin, finish))
    return sorted(windows)


def steps_in_windows(
    hours: Hours,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    period: int,
    margin: int = MARGIN_STEPS,
) -> list[int]:
    """Sorted TOTP steps (unix time // period) overlapping [start, end) inside a window or
    within `margin` steps of one; BadInput when [start, end) is longer than MAX_DAYS."""
    if not MIN_PERIOD <= period <= MAX_PERIOD or not 0 <= margin <= MAX_MARGIN:
        raise ValueError("period or margin out of range")
    # the first step running at `start` and the last one that begins before `end`
    first, last = _floor_seconds(start) // period, -(-_ceil_seconds(end) // period) - 1
    if end - start > timedelta(days=MAX_DAYS):
        raise BadInput(
            _("2FA code windows cover at most {count} days at a time").format(count=MAX_DAYS)
        )
    if end <= start:
        return []
    # windows a margin away from [start, end) still lend their margin steps to it
    low, high = (first - margin) * period, (last + 1 + margin) * period
    ranges: list[tuple[int, int]] = []
    for begin, finish in _windows(hours, zone, low, high):
        lo = max(begin // period - margin, first)
        hi = min(-(-finish // period) - 1 + margin, last)
        if ranges and lo <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        elif lo <= hi:
            ranges.append((lo, hi))
    return [step for lo, hi in ranges for step in range(lo, hi + 1)]


def book_for(
    uri: str,
    hours: Hours,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    margin: int = MARGIN_STEPS,
) -> CodeBook:
    """The codes of the seed in `uri` for every window step in [start, end) (see plan)."""
    period, digits, _algorithm = totp.parameters(uri)
    steps = steps_in_windows(hours, zone, start, end, period, margin)
    return CodeBook.from_steps(period, digits, steps, totp.codes_for_steps(uri, steps))


# --- top-ups --------------------------------------------------------------------------------------


def plan(
    hours: Hours,
    zone: ZoneInfo,
    now: datetime,
    days: int,
    have_until: datetime | None,
    expires: datetime | None,
    period: int,
    margin: int = MARGIN_STEPS,
) -> tuple[datetime, datetime] | None:
    """The (start, end) of the codes still to compute, in UTC; None when nothing is needed.

    From max(now, have_until) to min(now + days, expires): only steps not delivered yet.
    `have_until` is the end of the last interval delivered (this function's `end` then).
    None also when that interval holds no window step (a weekend, say).
    """
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise BadInput(_("2FA code windows cover 1 to {count} days").format(count=MAX_DAYS))
    start = now if have_until is None else max(now, have_until)
    end = now + timedelta(days=days)
    if expires is not None:
        end = min(end, expires)
    if start >= end or not steps_in_windows(hours, zone, start, end, period, margin):
        return None
    return start.astimezone(UTC), end.astimezone(UTC)


def needs_top_up(have_until: datetime | None, horizon_start: datetime, now: datetime) -> bool:
    """True once less than half of the horizon [horizon_start, have_until) is left at `now`."""
    if have_until is None:
        return True
    return (have_until - now) * 2 < have_until - horizon_start


def top_up_from(have_until: datetime, horizon_start: datetime) -> datetime:
    """The middle of the horizon: `needs_top_up` is true at every moment after it."""
    return horizon_start + (have_until - horizon_start) / 2


def within(hours: Hours, zone: ZoneInfo, when: datetime) -> bool:
    """True when the zone's clock at `when` reads a time inside `hours`."""
    local = when.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in hours.days[local.weekday()])


def next_opening(hours: Hours, zone: ZoneInfo, when: datetime) -> datetime | None:
    """The first moment after `when` at which `hours` open again (None: they never do)."""
    local = when.astimezone(zone)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        for start, _end in hours.days[day.weekday()]:
            naive = datetime(day.year, day.month, day.day) + timedelta(minutes=start)
            candidate = naive.replace(tzinfo=zone)
            if candidate > when:
                return candidate
    return None
