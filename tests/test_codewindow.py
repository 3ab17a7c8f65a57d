"""2FA code windows: hours, zones, steps (against a brute-force reference), codes, the pack.

The references here are written independently of vault/codewindow.py and vault/codebook.py:
steps are checked by sampling the zone's wall clock step by step, codes against pyotp and
RFC 6238, and the pack against a bit-string encoder.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import codebook, codewindow, totp
from vault.codebook import MAX_CODES, CodeBook, pack, unpack
from vault.codewindow import (
    MAX_DAYS,
    Hours,
    book_for,
    local_zone_name,
    needs_top_up,
    parse_hours,
    parse_zone,
    plan,
    steps_in_windows,
)
from vault.encoding import b64e, dumps, loads
from vault.errors import BadInput, Malformed

SEED = "JBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/Mail?secret={SEED}"
OTHER_URI = "otpauth://totp/Mail?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = parse_hours("Mon-Fri 09:00-18:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def minutes(day: tuple[tuple[int, int], ...]) -> set[int]:
    return {minute for start, end in day for minute in range(start, end)}


# --- hours: the parser ----------------------------------------------------------------------------

WEEKDAYS = [(540, 1080)]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Mon-Fri 09:00-18:00", "Mon-Fri 09:00-18:00"),
        ("09:00-18:00", "09:00-18:00"),
        ("00:00-24:00", "00:00-24:00"),
        (
            "Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00, Sat 10:00-12:00",
            "Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00, Sat 10:00-12:00",
        ),
        ("Mon-Fri 09:00-12:00, 13:00-18:00", "Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00"),
        ("Mon,Wed,Fri 09:00-17:00", "Mon,Wed,Fri 09:00-17:00"),
        ("Mon, Wed, Fri 9:00-17:00", "Mon,Wed,Fri 09:00-17:00"),
        ("Sat-Sun 10:00-16:00", "Sat-Sun 10:00-16:00"),
        ("Fri-Mon 10:00-16:00", "Fri-Mon 10:00-16:00"),
        ("monday-FRIDAY 09:00-18:00", "Mon-Fri 09:00-18:00"),
        ("Tues 09:00-10:00, thu 09:00-10:00", "Tue,Thu 09:00-10:00"),
        ("月-金 09:00-18:00", "Mon-Fri 09:00-18:00"),
        ("月曜日-金曜日 09:00-18:00", "Mon-Fri 09:00-18:00"),
        ("月水金 09:00-17:00", "Mon,Wed,Fri 09:00-17:00"),
        ("月・水・金 09:00-17:00", "Mon,Wed,Fri 09:00-17:00"),
        ("土日 10:00〜12:00", "Sat-Sun 10:00-12:00"),
        ("月－金　０９：００～１８：００", "Mon-Fri 09:00-18:00"),  # full width throughout
        ("月-金 09:00-12:00、13:00-18:00", "Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00"),
        ("Mon 09:00-12:00, Mon 11:00-14:00", "Mon 09:00-14:00"),  # overlap merged
        ("Mon 09:00-12:00, Mon 12:00-13:00", "Mon 09:00-13:00"),  # touching merged
        ("09:00-12:00, Mon 13:00-14:00", "09:00-12:00, Mon 13:00-14:00"),
        ("Mon-Sun 08:00-09:00", "08:00-09:00"),
        ("Mon-Fri 09:00-18:00,", "Mon-Fri 09:00-18:00"),
        ("Mon-Fri 09:00-12:00 13:00-18:00", "Mon-Fri 09:00-12:00, Mon-Fri 13:00-18:00"),
    ],
)
def test_hours_that_parse(text, canonical):
    hours = parse_hours(text)
    assert hours.describe() == canonical
    assert parse_hours(canonical) == hours


def test_hours_hold_minutes_per_weekday():
    assert OFFICE.days == tuple([tuple(WEEKDAYS)] * 5 + [(), ()])
    assert parse_hours("Fri-Mon 10:00-11:00").days == (
        ((600, 660),),
        (),
        (),
        (),
        ((600, 660),),
        ((600, 660),),
        ((600, 660),),
    )
    assert parse_hours("00:00-24:00").days == (((0, 1440),),) * 7


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (",", "no time"),
        ("Mon-Fri 18:00-09:00", "'Mon-Fri 18:00-09:00' the end is not after the start"),
        ("Mon 09:00-09:00", "'Mon 09:00-09:00' the end is not after the start"),
        ("Mon 09:00-18:00, Tue 09:60-10:00", "'Tue 09:60-10:00' the minutes must be 00-59"),
        ("09:00-25:00", "25:00 is beyond 24:00"),
        ("09:00-24:30", "24:30 is beyond 24:00"),
        ("Mon-Fri", "'Mon-Fri' end with days but no times"),
        ("Mon 09:00-10:00, Sat", "end with days but no times"),
        ("Funday 09:00-10:00", "the day 'Funday'"),
        ("M 09:00-10:00", "the day 'M'"),
        ("Mon-Tue-Wed 09:00-10:00", "the days 'Mon-Tue-Wed'"),
        ("Mon-Mon 09:00-10:00", "'Mon-Mon' start and end on the same day"),
        ("Mon-Fri 9-18", "'Mon-Fri 9-18'"),
        ("Mon 9:5-10:00", "'Mon 9:5-10:00'"),
        ("Mon 09:00-10:00 and 11:00-12:00", "'Mon 09:00-10:00 and 11:00-12:00'"),
        ("x" * 501, "too long"),
    ],
)
def test_hours_that_do_not_parse_name_the_bad_part(text, named):
    with pytest.raises(BadInput) as caught:
        parse_hours(text)
    assert named in caught.value.message
    assert "\n" not in caught.value.message


DAY_FORMS = st.sampled_from(
    [
        ("Mon", [0]),
        ("Tue", [1]),
        ("Sunday", [6]),
        ("Mon-Fri", [0, 1, 2, 3, 4]),
        ("Fri-Mon", [4, 5, 6, 0]),
        ("Sat-Sun", [5, 6]),
        ("月", [0]),
        ("土日", [5, 6]),
        ("水-月", [2, 3, 4, 5, 6, 0]),
        ("Mon,Thu", [0, 3]),
        ("", list(range(7))),
    ]
)


@st.composite
def hours_texts(draw):
    """An hours text and, per weekday, the set of minutes it covers (an independent model)."""
    covered: list[set[int]] = [set() for _ in range(7)]
    entries = []
    for index in range(draw(st.integers(1, 5))):
        text, days = draw(DAY_FORMS)
        if not text and index:
            text, days = "Mon-Sun", list(range(7))  # a bare range later would inherit days
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        entries.append(f"{text} {start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
        for day in days:
            covered[day] |= set(range(start, end))
    return ", ".join(entries), covered


@settings(max_examples=200, deadline=None)
@given(hours_texts())
def test_describe_parses_back_to_the_same_hours(case):
    text, covered = case
    hours = parse_hours(text)
    assert [minutes(day) for day in hours.days] == covered
    canonical = hours.describe()
    assert parse_hours(canonical) == hours
    assert parse_hours(canonical).describe() == canonical
    assert Hours.from_json(loads(dumps(hours.to_json()))) == hours


def test_to_json_is_small_and_plain():
    assert OFFICE.to_json() == [[[540, 1080]]] * 5 + [[], []]
    assert len(dumps(OFFICE.to_json())) == 72


@pytest.mark.parametrize(
    "value",
    [
        None,
        "Mon-Fri 09:00-18:00",
        [[]] * 6,
        [[]] * 8,
        [[]] * 7,  # no time at all
        [[[540, 1080]], [], [], [], [], [], "x"],
        [[[540]], [], [], [], [], [], []],
        [[[540, 1080, 1]], [], [], [], [], [], []],
        [[[540.0, 1080]], [], [], [], [], [], []],
        [[[True, 1080]], [], [], [], [], [], []],
        [[["540", 1080]], [], [], [], [], [], []],
        [[[1080, 540]], [], [], [], [], [], []],
        [[[540, 540]], [], [], [], [], [], []],
        [[[-1, 540]], [], [], [], [], [], []],
        [[[540, 1441]], [], [], [], [], [], []],
        [[[540, 600], [600, 700]], [], [], [], [], [], []],  # touching: not merged
        [[[540, 700], [600, 800]], [], [], [], [], [], []],  # overlapping
        [[[700, 800], [540, 600]], [], [], [], [], [], []],  # out of order
        [[[n * 2, n * 2 + 1] for n in range(49)], [], [], [], [], [], []],
    ],
)
def test_hours_from_json_refuses_anything_but_the_canonical_form(value):
    with pytest.raises(Malformed):
        Hours.from_json(value)


# --- zones ----------------------------------------------------------------------------------------


def test_parse_zone():
    assert parse_zone(" Asia/Tokyo ") == TOKYO
    for name in ("Mars/Olympus_Mons", "America", "../../etc/passwd", "/etc/passwd", "JST-9"):
        with pytest.raises(BadInput) as caught:
            parse_zone(name)
        assert repr(name) in caught.value.message
    with pytest.raises(BadInput):
        parse_zone("")


def test_local_zone_name(tmp_path):
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    none = str(tmp_path / "absent")
    assert local_zone_name({"TZ": "Asia/Tokyo"}, none, none) == "Asia/Tokyo"
    assert local_zone_name({"TZ": ":America/New_York"}, none, none) == "America/New_York"
    assert local_zone_name({"TZ": "/usr/share/zoneinfo/Asia/Tokyo"}, none, none) == "Asia/Tokyo"
    assert local_zone_name({"TZ": "JST-9"}, str(link), none) == "Europe/Berlin"
    assert local_zone_name({}, str(link), none) == "Europe/Berlin"
    timezone = tmp_path / "timezone"
    timezone.write_text("America/New_York\n")
    assert local_zone_name({}, none, str(timezone)) == "America/New_York"
    timezone.write_text("Nowhere/Land\n")
    assert local_zone_name({}, none, str(timezone)) == "UTC"
    assert local_zone_name({}, none, none) == "UTC"


# --- steps against a brute-force reference --------------------------------------------------------


def in_hours(hours: Hours, zone: ZoneInfo, second: int) -> bool:
    wall = datetime.fromtimestamp(second, zone)
    clock = wall.hour * 3600 + wall.minute * 60 + wall.second
    return any(s * 60 <= clock < e * 60 for s, e in hours.days[wall.weekday()])


def reference_steps(hours, zone, start, end, period, margin=1):
    """Every step checked against the wall clock at its start and at each minute inside it.

    Windows begin and end on whole minutes of a zone whose offsets are whole minutes, so a
    step meets a window exactly when one of those instants is inside it.
    """
    first = int(start.timestamp()) // period
    last = -(-int(end.timestamp()) // period) - 1
    inside = set()
    for step in range(first - 2 * margin - 1, last + 2 * margin + 2):
        begin = step * period
        probes = [begin] + list(range(begin - begin % 60 + 60, begin + period, 60))
        if any(in_hours(hours, zone, probe) for probe in probes):
            inside.add(step)
    return [
        step
        for step in range(first, last + 1)
        if any(step + delta in inside for delta in range(-margin, margin + 1))
    ]


def step_of(when: datetime, period: int = 30) -> int:
    return int(when.timestamp()) // period


@pytest.mark.parametrize(
    ("zone", "text", "start", "days", "period", "margin"),
    [
        (TOKYO, "Mon-Fri 09:00-18:00", utc(2026, 6, 4, 7, 3, 11), 4, 30, 1),
        (TOKYO, "Mon-Fri 09:00-12:00, 13:00-18:00", utc(2026, 6, 5), 3, 60, 2),
        (NEW_YORK, "02:00-03:00", utc(2026, 3, 7), 2, 30, 1),  # spring forward
        (NEW_YORK, "01:00-02:00, 02:30-04:00", utc(2026, 3, 7), 2, 45, 1),
        (NEW_YORK, "01:00-02:00", utc(2026, 10, 31), 2, 30, 1),  # fall back
        (NEW_YORK, "01:30-03:00", utc(2026, 10, 31), 2, 30, 0),
        (BERLIN, "Sat-Mon 00:00-24:00", utc(2026, 3, 28), 2, 300, 1),
        (BERLIN, "Sun 02:00-03:00, Sun 22:00-24:00", utc(2026, 10, 24), 2, 30, 3),
        (BERLIN, "Fri-Mon 23:00-24:00, 00:00-01:00", utc(2026, 3, 27, 12), 3, 10, 1),
    ],
)
def test_steps_match_the_reference(zone, text, start, days, period, margin):
    hours = parse_hours(text)
    end = start + timedelta(days=days)
    got = steps_in_windows(hours, zone, start, end, period, margin)
    assert got == reference_steps(hours, zone, start, end, period, margin)
    assert got  # each case has steps: an empty answer would prove nothing


@settings(max_examples=60, deadline=None)
@given(
    case=hours_texts(),
    zone=st.sampled_from([TOKYO, NEW_YORK, BERLIN]),
    start=st.integers(int(utc(2026, 1, 1).timestamp()), int(utc(2027, 1, 1).timestamp())),
    span=st.integers(1, 2 * 86400),
    period=st.sampled_from([30, 60, 90, 300]),
    margin=st.integers(0, 2),
)
def test_steps_match_the_reference_anywhere(case, zone, start, span, period, margin):
    hours = parse_hours(case[0])
    begin = datetime.fromtimestamp(start, UTC)
    end = begin + timedelta(seconds=span)
    got = steps_in_windows(hours, zone, begin, end, period, margin)
    assert got == reference_steps(hours, zone, begin, end, period, margin)


def test_dst_days_have_fewer_or_more_steps():
    every_day = parse_hours("00:00-24:00")

    def count(zone, hours, day):
        start = local(zone, *day)
        return len(steps_in_windows(hours, zone, start, start + timedelta(days=1), 30, 0))

    assert count(NEW_YORK, parse_hours("02:00-03:00"), (2026, 3, 8)) == 0
    assert count(NEW_YORK, parse_hours("02:00-03:00"), (2026, 3, 9)) == 120
    assert count(NEW_YORK, parse_hours("01:00-04:00"), (2026, 3, 8)) == 240
    assert count(NEW_YORK, parse_hours("02:30-04:00"), (2026, 3, 8)) == 120
    assert count(NEW_YORK, parse_hours("01:00-02:00"), (2026, 11, 1)) == 240
    assert count(BERLIN, parse_hours("Sun 00:00-24:00"), (2026, 3, 29)) == 23 * 120
    assert count(BERLIN, parse_hours("Sun 00:00-24:00"), (2026, 10, 25)) == 25 * 120
    assert count(TOKYO, every_day, (2026, 3, 8)) == 24 * 120


def test_fall_back_repeats_only_what_the_clock_repeats():
    # 01:30-03:00 on the night 01:00-02:00 happens twice: 01:00-01:29 EST is outside
    steps = steps_in_windows(
        parse_hours("01:30-03:00"), NEW_YORK, utc(2026, 11, 1), utc(2026, 11, 2), 30, 0
    )
    first_edt = step_of(utc(2026, 11, 1, 5, 30))
    assert steps == list(range(first_edt, first_edt + 60)) + list(
        range(step_of(utc(2026, 11, 1, 6, 30)), step_of(utc(2026, 11, 1, 8)))
    )


def test_margin_steps_surround_each_window_but_stay_inside_start_end():
    monday = local(TOKYO, 2026, 6, 1)
    steps = steps_in_windows(OFFICE, TOKYO, monday, monday + timedelta(days=1), 30, 2)
    opens, closes = step_of(local(TOKYO, 2026, 6, 1, 9)), step_of(local(TOKYO, 2026, 6, 1, 18))
    assert steps == list(range(opens - 2, closes + 2))
    # starting mid-window: nothing before start; ending mid-window: nothing after end
    mid = local(TOKYO, 2026, 6, 1, 12, 0, 10)
    assert steps_in_windows(OFFICE, TOKYO, mid, mid + timedelta(seconds=50), 30) == [
        step_of(mid),
        step_of(mid) + 1,
    ]
    assert steps_in_windows(OFFICE, TOKYO, mid, mid, 30) == []


def test_steps_compose_so_top_ups_deliver_exactly_the_new_steps():
    a = local(BERLIN, 2026, 3, 26, 17, 59, 50)
    for cut in (a + timedelta(hours=h, seconds=s) for h in (0, 1, 40) for s in (0, 7, 30)):
        c = a + timedelta(days=5)
        whole = steps_in_windows(OFFICE, BERLIN, a, c, 30)
        parts = steps_in_windows(OFFICE, BERLIN, a, cut, 30)
        parts += steps_in_windows(OFFICE, BERLIN, cut, c, 30)
        assert sorted(set(parts)) == whole


def test_steps_refuse_more_than_max_days_and_naive_times():
    start = utc(2026, 6, 1)
    full = steps_in_windows(
        parse_hours("00:00-24:00"), TOKYO, start, start + timedelta(days=MAX_DAYS), 10
    )
    assert len(full) == MAX_DAYS * 8640
    with pytest.raises(BadInput):
        steps_in_windows(OFFICE, TOKYO, start, start + timedelta(days=MAX_DAYS, seconds=1), 30)
    with pytest.raises(ValueError):
        steps_in_windows(OFFICE, TOKYO, datetime(2026, 6, 1), start, 30)
    with pytest.raises(ValueError):
        steps_in_windows(OFFICE, TOKYO, start, start + timedelta(days=1), 5)


# --- codes ----------------------------------------------------------------------------------------

RFC_SECRETS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890" * 6 + b"1234",
}


def uri_for(algorithm: str, digits: int, period: int) -> str:
    secret = base64.b32encode(RFC_SECRETS[algorithm]).decode().rstrip("=")
    return f"otpauth://totp/t?secret={secret}&algorithm={algorithm}&digits={digits}&period={period}"


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
@pytest.mark.parametrize("digits", [6, 8])
@pytest.mark.parametrize("period", [30, 60])
def test_codes_equal_pyotp(algorithm, digits, period):
    uri = uri_for(algorithm, digits, period)
    assert totp.parameters(uri) == (period, digits, algorithm)
    steps = [0, 1, 2, 59 // period, 1111111109 // period] + list(range(56_666_000, 56_666_200))
    reference = pyotp.TOTP(
        base64.b32encode(RFC_SECRETS[algorithm]).decode(),
        digits=digits,
        digest=getattr(hashlib, algorithm.lower()),
        interval=period,
    )
    assert totp.codes_for_steps(uri, steps) == [reference.at(step * period) for step in steps]


@pytest.mark.parametrize(
    ("algorithm", "at", "code"),
    [  # RFC 6238 appendix B
        ("SHA1", 59, "94287082"),
        ("SHA256", 59, "46119246"),
        ("SHA512", 59, "90693936"),
        ("SHA1", 1111111109, "07081804"),
        ("SHA512", 20000000000, "47863826"),
    ],
)
def test_codes_match_rfc_6238(algorithm, at, code):
    assert totp.codes_for_steps(uri_for(algorithm, 8, 30), [at // 30]) == [code]


def test_codes_for_steps_refuses_bad_input():
    with pytest.raises(BadInput):
        totp.codes_for_steps("otpauth://hotp/x?secret=" + SEED, [1])
    with pytest.raises(ValueError):
        totp.codes_for_steps(URI, [-1])
    assert totp.codes_for_steps(URI, []) == []


def test_a_book_shows_what_current_would_show():
    monday = local(TOKYO, 2026, 6, 1)
    book = book_for(URI, OFFICE, TOKYO, monday, monday + timedelta(days=1))
    for when in (local(TOKYO, 2026, 6, 1, 9, 0, s) for s in (0, 29, 30, 59)):
        current = totp.current(URI, at=when.timestamp())
        assert book.code_at(when) == (current.code, current.seconds_left)


# --- the code book --------------------------------------------------------------------------------

MONDAY = local(TOKYO, 2026, 6, 1)


@pytest.fixture(scope="module")
def week() -> CodeBook:
    return book_for(URI, OFFICE, TOKYO, MONDAY, MONDAY + timedelta(days=7))


def code_now(when: datetime) -> str:
    return totp.current(URI, at=when.timestamp()).code


@pytest.mark.parametrize(
    ("clock", "left"),
    [
        ((8, 59, 29), None),  # before the margin step
        ((8, 59, 30), 30),  # the margin step's first second
        ((9, 0, 0), 30),  # the window's first second
        ((12, 0, 7), 23),
        ((17, 59, 59), 1),  # the window's last second
        ((18, 0, 0), 30),  # the margin step after
        ((18, 0, 29), 1),
        ((18, 0, 30), None),
    ],
)
def test_code_at_window_edges(week, clock, left):
    when = local(TOKYO, 2026, 6, 3, *clock)
    found = week.code_at(when)
    assert found == (None if left is None else (code_now(when), left))
    assert week.code_at(when + timedelta(microseconds=999_999)) == found


def test_next_window_across_a_weekend():
    week = book_for(URI, OFFICE, TOKYO, local(TOKYO, 2026, 6, 5, 12), local(TOKYO, 2026, 6, 9))
    friday_evening = local(TOKYO, 2026, 6, 5, 18, 0, 30)
    monday_open = local(TOKYO, 2026, 6, 8, 8, 59, 30)
    assert week.code_at(friday_evening) is None
    assert week.next_window(friday_evening) == monday_open
    assert week.next_window(local(TOKYO, 2026, 6, 7, 12)) == monday_open
    assert week.next_window(monday_open).tzinfo == UTC
    inside = local(TOKYO, 2026, 6, 5, 13, 0, 3)
    assert week.next_window(inside) == inside
    assert week.horizon() == local(TOKYO, 2026, 6, 8, 18, 0, 30)
    assert week.next_window(week.horizon()) is None
    assert week.code_at(week.horizon() - timedelta(seconds=1)) is not None


def test_an_empty_book():
    empty = CodeBook.from_steps(30, 6, [], [])
    assert (empty.horizon(), empty.next_window(MONDAY), empty.code_at(MONDAY)) == (None,) * 3
    assert unpack(pack(empty)) == empty
    assert len(pack(empty)) == 5


def test_merge_adds_a_top_up(week):
    tuesday = MONDAY + timedelta(days=1, hours=12, seconds=15)
    first = book_for(URI, OFFICE, TOKYO, MONDAY, tuesday)
    top_up = book_for(URI, OFFICE, TOKYO, tuesday, MONDAY + timedelta(days=7))
    assert first.merge(top_up) == week
    assert top_up.merge(first) == week
    assert week.merge(week) == week
    assert first.merge(top_up).horizon() == week.horizon()


def test_merge_refuses_codes_that_disagree(week):
    other = book_for(OTHER_URI, OFFICE, TOKYO, MONDAY + timedelta(days=2), MONDAY + timedelta(7))
    with pytest.raises(Malformed):
        week.merge(other)
    longer = book_for(URI + "&period=60", OFFICE, TOKYO, MONDAY, MONDAY + timedelta(days=1))
    with pytest.raises(Malformed):
        week.merge(longer)


def test_drop_before_forgets_only_expired_codes(week):
    for when in (MONDAY, local(TOKYO, 2026, 6, 2, 13, 0, 12), local(TOKYO, 2026, 6, 5, 17)):
        kept = week.drop_before(when)
        second = int(when.timestamp())
        assert kept.steps() == [s for s in week.steps() if (s + 1) * 30 > second]
        assert kept.codes() == week.codes()[len(week) - len(kept) :]
        assert kept.horizon() == week.horizon()
        assert kept.code_at(when) == week.code_at(when)
    assert len(week.drop_before(week.horizon())) == 0


def test_from_steps_checks_its_input():
    for steps, codes in (
        ([2, 1], ["000000", "000001"]),
        ([1, 1], ["000000", "000001"]),
        ([-1], ["000000"]),
        ([1], ["00000"]),
        ([1], ["0000000"]),
        ([1], ["00000a"]),
        ([1], ["００００００"]),
        ([1, 2], ["000000"]),
    ):
        with pytest.raises(ValueError):
            CodeBook.from_steps(30, 6, steps, codes)


def test_a_book_does_not_show_its_codes(week):
    assert "codes" in repr(week) and week.codes()[0] not in repr(week)


# --- the pack -------------------------------------------------------------------------------------


def ref_varint(value: int) -> str:
    """LEB128 as a bit string, written from the spec."""
    groups = []
    while True:
        groups.append(value & 0x7F)
        value >>= 7
        if not value:
            break
    return "".join(f"{int(i < len(groups) - 1)}{g:07b}" for i, g in enumerate(groups))


def ref_pack(version, digits, period, fields, codes, width=None, pad="") -> bytes:
    """An independent encoder: header, varint fields, codes as a bit string, zero padding."""
    bits = f"{version:08b}{digits:08b}{period:016b}" + "".join(ref_varint(f) for f in fields)
    width = width or {6: 20, 7: 24, 8: 27}[digits]
    bits += "".join(f"{code:0{width}b}" for code in codes)
    bits += pad or "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


@st.composite
def books(draw):
    digits = draw(st.sampled_from([6, 7, 8]))
    period = draw(st.integers(10, 300))
    base = draw(st.integers(0, codebook.MAX_SECONDS // 300 - 401))
    offsets = draw(st.lists(st.integers(0, 400), max_size=120, unique=True))
    steps = sorted(base + offset for offset in offsets)
    codes = [draw(st.integers(0, 10**digits - 1)) for _ in steps]
    return CodeBook.from_steps(period, digits, steps, [f"{c:0{digits}d}" for c in codes])


def fields_of(book: CodeBook) -> list[int]:
    fields, previous_end = [len(book.runs())], 0
    for start, count in book.runs():
        fields += [start - previous_end, count]
        previous_end = start + count
    return fields


@settings(max_examples=200, deadline=None)
@given(books())
def test_pack_round_trips_and_matches_the_spec(book):
    data = pack(book)
    assert unpack(data) == book
    codes = [int(code) for code in book.codes()]
    assert data == ref_pack(1, book.digits, book.period, fields_of(book), codes)


def test_pack_of_a_known_book():
    book = CodeBook.from_steps(30, 6, [5, 6, 7, 300], ["000001", "999999", "123456", "000000"])
    assert book.runs() == [(5, 3), (300, 1)]
    # header, 2 runs, (5, 3), gap 300 - 8 = 292 as two varint bytes, count 1, 4 x 20 bits
    assert pack(book).hex() == "0106001e020503a4020100001f423f1e24000000"


BAD_PACKS = {
    "unknown version 0": ref_pack(0, 6, 30, [1, 5, 1], [7]),
    "unknown version 2": ref_pack(2, 6, 30, [1, 5, 1], [7]),
    "5 digits": ref_pack(1, 5, 30, [1, 5, 1], [7], width=20),
    "9 digits": ref_pack(1, 9, 30, [1, 5, 1], [7], width=27),
    "period 9": ref_pack(1, 6, 9, [1, 5, 1], [7]),
    "period 301": ref_pack(1, 6, 301, [1, 5, 1], [7]),
    "empty run": ref_pack(1, 6, 30, [1, 5, 0], []),
    "touching runs": ref_pack(1, 6, 30, [2, 5, 1, 0, 1], [7, 8]),
    "more codes than counts": ref_pack(1, 6, 30, [1, 5, 1], [7, 8]),
    "fewer codes than counts": ref_pack(1, 6, 30, [1, 5, 2], [7]),
    "more runs announced": ref_pack(1, 6, 30, [2, 5, 1], [7]),
    "code of 7 digits": ref_pack(1, 6, 30, [1, 5, 1], [10**6]),
    "code of 9 digits": ref_pack(1, 8, 30, [1, 5, 1], [10**8]),
    "non-zero padding": ref_pack(1, 6, 30, [1, 5, 1], [7], pad="0001"),
    "extra zero byte": ref_pack(1, 6, 30, [1, 5, 1], [7]) + b"\0",
    "non-minimal varint": bytes.fromhex("0106001e01") + bytes([0x85, 0x00, 0x01, 0, 0, 0x70]),
    "oversized varint": bytes.fromhex("0106001e01") + bytes([0xFF] * 7),
    "too many codes": ref_pack(1, 6, 10, [1, 0, MAX_CODES + 1], []),
    "too many runs": ref_pack(1, 6, 10, [MAX_CODES + 1], []),
    "beyond 9999": ref_pack(1, 6, 300, [1, 253402300800 // 300, 1], [7]),
    "nothing": b"",
    "header only": bytes.fromhex("0106001e"),
}


def test_the_bad_packs_differ_from_a_good_one_only_where_named():
    good = ref_pack(1, 6, 30, [1, 5, 1], [7])
    assert unpack(good).steps() == [5] and unpack(good).codes() == ["000007"]
    assert ref_pack(1, 6, 30, [1, 5, 1], [7], pad="0000") == good


@pytest.mark.parametrize("name", BAD_PACKS)
def test_unpack_refuses(name):
    with pytest.raises(Malformed):
        unpack(BAD_PACKS[name])


def test_unpack_refuses_every_truncation(week):
    data = pack(week)
    for size in [*range(0, 40), *range(len(data) - 40, len(data))]:
        with pytest.raises(Malformed):
            unpack(data[:size])


def test_pack_refuses_a_book_unpack_would_refuse():
    steps = list(range(MAX_CODES + 1))
    book = CodeBook.from_steps(10, 6, steps, ["000000"] * len(steps))
    with pytest.raises(BadInput):
        pack(book)
    fits = CodeBook.from_steps(10, 8, steps[:-1], ["99999999"] * MAX_CODES)
    assert unpack(pack(fits)) == fits
    # header, one run, start 0, a 3-byte count, 27 bits a code: about 904 KB
    assert len(pack(fits)) == 4 + 1 + 1 + 3 + (MAX_CODES * 27 + 7) // 8 == 904_023


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_only_raise_malformed(data):
    try:
        book = unpack(data)
    except Malformed:
        return
    assert pack(book) == data  # what unpack accepts is exactly what pack writes


@settings(max_examples=200, deadline=None)
@given(books(), st.data())
def test_mutated_packs_only_raise_malformed(book, data):
    packed = bytearray(pack(book))
    kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    at = data.draw(st.integers(0, max(len(packed) - 1, 0)))
    if kind == "flip":
        packed[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "insert":
        packed.insert(at, data.draw(st.integers(0, 255)))
    else:
        del packed[at]
    try:
        mutated = unpack(bytes(packed))
    except Malformed:
        return
    assert pack(mutated) == bytes(packed)


def test_sizes_of_a_week_of_office_hours(week):
    # Mon-Fri 09:00-18:00 at 30 s, 6 digits, one step of margin: 1,082 codes a day
    day = book_for(URI, OFFICE, TOKYO, MONDAY, MONDAY + timedelta(days=1))
    assert len(day) == 1082 and len(week) == 5 * 1082
    assert len(pack(day)) == 4 + 1 + 4 + 2 + (1082 * 20 + 7) // 8 == 2716
    # later runs start ~15 h (1,799 steps) after the one before: 2-byte gap, 2-byte count
    assert len(pack(week)) == 4 + 1 + 4 + 2 + 4 * (2 + 2) + (5410 * 20 + 7) // 8 == 13552
    assert len(b64e(pack(week))) == 18070


# --- planning top-ups -----------------------------------------------------------------------------

NOW = local(TOKYO, 2026, 6, 3, 10)  # a Wednesday


def test_plan_the_first_delivery_and_a_top_up():
    assert plan(OFFICE, TOKYO, NOW, 7, None, None, 30) == (NOW, NOW + timedelta(days=7))
    have = NOW + timedelta(days=3)
    assert plan(OFFICE, TOKYO, NOW, 7, have, None, 30) == (have, NOW + timedelta(days=7))
    late = NOW + timedelta(days=8)
    assert plan(OFFICE, TOKYO, NOW, 7, late, None, 30) is None
    old = NOW - timedelta(days=1)  # the owner was away: start from now, not from the past
    assert plan(OFFICE, TOKYO, NOW, 7, old, None, 30) == (NOW, NOW + timedelta(days=7))
    assert plan(OFFICE, TOKYO, NOW, 7, None, None, 30)[0].tzinfo == UTC


def test_plan_stops_at_the_expiry():
    have, expires = NOW + timedelta(days=3), NOW + timedelta(days=5)
    assert plan(OFFICE, TOKYO, NOW, 7, have, expires, 30) == (have, expires)
    assert plan(OFFICE, TOKYO, NOW, 7, None, expires, 30) == (NOW, expires)
    assert plan(OFFICE, TOKYO, NOW, 7, expires, expires, 30) is None
    assert plan(OFFICE, TOKYO, NOW, 7, None, NOW, 30) is None


def test_plan_needs_nothing_over_a_weekend():
    saturday = local(TOKYO, 2026, 6, 6, 8)
    assert plan(OFFICE, TOKYO, saturday, 1, None, None, 30) is None
    assert plan(OFFICE, TOKYO, saturday, 2, None, None, 30) is None  # until Monday 08:00
    assert plan(OFFICE, TOKYO, saturday, 3, None, None, 30) == (
        saturday,
        saturday + timedelta(days=3),
    )


@pytest.mark.parametrize("days", [0, -1, MAX_DAYS + 1, True, 7.0])
def test_plan_refuses_out_of_range_days(days):
    with pytest.raises(BadInput):
        plan(OFFICE, TOKYO, NOW, days, None, None, 30)


def test_top_up_once_less_than_half_the_horizon_is_left():
    start = NOW
    have = start + timedelta(days=7)
    assert needs_top_up(None, start, start)
    assert not needs_top_up(have, start, start)
    assert not needs_top_up(have, start, start + timedelta(days=3.5))
    assert needs_top_up(have, start, start + timedelta(days=3.5, seconds=1))
    assert needs_top_up(have, start, have + timedelta(days=1))


def test_the_modules_are_pure():
    # time comes in as parameters: neither module reads the clock itself
    for module in (codewindow, codebook):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "now(" not in source and "time.time" not in source and "utcnow" not in source


@pytest.mark.parametrize("days", [1, 7, 30])
def test_top_up_from_is_the_moment_needs_top_up_turns_true(days):
    """Upkeep remembers when it next has work (top_up_from); at that moment a top-up is not
    due yet, a microsecond later it is."""
    from datetime import UTC, datetime, timedelta

    from vault.codewindow import needs_top_up, top_up_from

    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    until = start + timedelta(days=days, minutes=17)
    moment = top_up_from(until, start)
    assert not needs_top_up(until, start, moment)
    assert needs_top_up(until, start, moment + timedelta(microseconds=1))
