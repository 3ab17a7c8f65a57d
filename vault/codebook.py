"""The 2FA codes a secretary holds for one item (`CodeBook`) and their compact binary form.

A book maps TOTP steps (unix time // period) to codes; it never holds the seed. `pack`
and `unpack` are its versioned wire form, sealed by the caller; `unpack` refuses
anything it would not itself produce. Pure: no clock, no I/O.

Pack format v1 (all integers unsigned; varint = LEB128, minimal length):
    version u8 = 1 | digits u8 (6, 7, 8) | period u16 big-endian (10..300)
    runs varint | runs x (start varint, count varint)
    codes: one fixed-width big-endian field per step, MSB first, in step order,
           zero bits up to the next byte; width 20 / 24 / 27 bits for 6 / 7 / 8 digits
The first run's start is the absolute step; every later one is the gap (>= 1) from the
end of the run before it (start - previous start - previous count). Counts are >= 1.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from .errors import BadInput, Malformed
from .i18n import _

PACK_VERSION = 1
# 31 days of 10 s steps, plus edge and margin steps. Packed, that maximum is 904 KB at 8
# digits (1.2 MB in base64, over labels.MAX_LINE) and 670 KB at 6 digits (893 KB base64).
MAX_CODES = 31 * 86400 // 10 + 16
MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime can hold
WIDTH = {6: 20, 7: 24, 8: 27}  # bits per code: the least that hold 10**digits - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MAX_VARINT_BYTES = 6  # 42 bits: more than any step or count that passes the checks


class CodeBook:
    """TOTP codes by step, as sorted runs of consecutive steps; immutable."""

    __slots__ = ("period", "digits", "_starts", "_counts", "_offsets", "_codes")

    def __init__(
        self, period: int, digits: int, runs: Sequence[tuple[int, int]], codes: array[int]
    ):
        # callers have checked everything: use from_steps or unpack
        self.period, self.digits = period, digits
        self._starts = [start for start, _count in runs]
        self._counts = [count for _start, count in runs]
        self._offsets = [0] * len(runs)
        for index in range(1, len(runs)):
            self._offsets[index] = self._offsets[index - 1] + self._counts[index - 1]
        self._codes = codes

    @classmethod
    def from_steps(
        cls, period: int, digits: int, steps: Sequence[int], codes: Sequence[str]
    ) -> CodeBook:
        """A book of `codes[i]` at `steps[i]`; ValueError unless steps rise and codes fit."""
        if digits not in WIDTH or not 10 <= period <= 300 or len(steps) != len(codes):
            raise ValueError("a code book needs 6-8 digits, a 10-300 s period, a code per step")
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or (steps and steps[0] < 0):
            raise ValueError("code book steps must be non-negative and strictly rising")
        if any(len(code) != digits or not code.isascii() or not code.isdigit() for code in codes):
            raise ValueError("a code does not have the book's number of digits")
        if steps and (steps[-1] + 1) * period > MAX_SECONDS:
            raise ValueError("a code book step is beyond the year 9999")
        return cls(period, digits, _runs(steps), array("L", (int(code) for code in codes)))

    def __len__(self) -> int:
        return len(self._codes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodeBook):
            return NotImplemented
        same = (self.period, self.digits, self._starts, self._counts)
        return same == (other.period, other.digits, other._starts, other._counts) and (
            self._codes == other._codes
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, but not frozen by type

    def __repr__(self) -> str:
        return f"<CodeBook {len(self)} codes, {self.digits} digits every {self.period} s>"

    def runs(self) -> list[tuple[int, int]]:
        """The (first step, number of steps) of each run of consecutive steps, in order."""
        return list(zip(self._starts, self._counts, strict=True))

    def steps(self) -> list[int]:
        """Every step that has a code, in order."""
        return [step for start, count in self.runs() for step in range(start, start + count)]

    def codes(self) -> list[str]:
        """Every code as the site expects it (zero-padded), in step order."""
        return [f"{code:0{self.digits}d}" for code in self._codes]

    def code_at(self, when: datetime) -> tuple[str, int] | None:
        """The code valid at `when` and its seconds left (1..period); None outside the book."""
        second = _floor_seconds(when)
        step = second // self.period
        index = bisect_right(self._starts, step) - 1
        if index < 0 or step >= self._starts[index] + self._counts[index]:
            return None
        code = self._codes[self._offsets[index] + step - self._starts[index]]
        return f"{code:0{self.digits}d}", (step + 1) * self.period - second

    def next_window(self, when: datetime) -> datetime | None:
        """When a code is next available, in UTC: `when` itself if one is now, else the
        start of the next run; None when the book has no code at or after `when`."""
        if self.code_at(when) is not None:
            return when.astimezone(UTC)
        index = bisect_right(self._starts, _floor_seconds(when) // self.period)
        if index == len(self._starts):
            return None
        return _at(self._starts[index] * self.period)

    def horizon(self) -> datetime | None:
        """When the last code expires (the end of its step), in UTC; None for an empty book."""
        if not self._starts:
            return None
        return _at((self._starts[-1] + self._counts[-1]) * self.period)

    def merge(self, other: CodeBook) -> CodeBook:
        """This book with `other`'s steps added (a top-up); Malformed if they disagree."""
        if (self.period, self.digits) != (other.period, other.digits):
            raise Malformed(_("a 2FA code top-up has another period or number of digits"))
        by_step = dict(zip(self.steps(), self._codes, strict=True))
        for step, code in zip(other.steps(), other._codes, strict=True):
            if by_step.setdefault(step, code) != code:
                raise Malformed(_("a 2FA code top-up disagrees with the codes already held"))
        steps = sorted(by_step)
        codes = array("L", (by_step[step] for step in steps))
        return CodeBook(self.period, self.digits, _runs(steps), codes)

    def drop_before(self, when: datetime) -> CodeBook:
        """This book without the codes that expired at or before `when`."""
        first = _floor_seconds(when) // self.period  # the step running at `when` stays
        runs: list[tuple[int, int]] = []
        skip = 0
        for start, count in self.runs():
            if start + count <= first:
                skip += count
            elif start < first:
                skip += first - start
                runs.append((first, start + count - first))
            else:
                runs.append((start, count))
        return CodeBook(self.period, self.digits, runs, self._codes[skip:])


def _runs(steps: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for step in steps:
        if runs and step == runs[-1][0] + runs[-1][1]:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((step, 1))
    return runs


def _floor_seconds(when: datetime) -> int:
    if when.utcoffset() is None:
        raise ValueError("code books need aware datetimes")
    return (when - _EPOCH) // _SECOND


def _at(second: int) -> datetime:
    return _EPOCH + second * _SECOND


# --- the pack ---------------------------------------------------------------------------------


def pack(book: CodeBook) -> bytes:
    """The book in pack format v1 (see the module docstring); BadInput beyond MAX_CODES."""
    if len(book) > MAX_CODES:
        raise BadInput(
            _("too many 2FA codes for one delivery (at most {count})").format(count=MAX_CODES)
        )
    out = bytearray([PACK_VERSION, book.digits]) + book.period.to_bytes(2, "big")
    runs = book.runs()
    out += _varint(len(runs))
    previous_end = 0
    for start, count in runs:
        out += _varint(start - previous_end) + _varint(count)
        previous_end = start + count
    out += _pack_codes(book._codes, WIDTH[book.digits])
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _pack_codes(codes: Sequence[int], width: int) -> bytes:
    # 8 codes of `width` bits are exactly `width` bytes: pack by groups of 8, zero-filled
    out = bytearray()
    for index in range(0, len(codes), 8):
        group = codes[index : index + 8]
        value = 0
        for code in group:
            value = value << width | code
        out += (value << width * (8 - len(group))).to_bytes(width, "big")
    return bytes(out[: (len(codes) * width + 7) // 8])


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise Malformed(_("the 2FA code pack is truncated"))
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def varint(self) -> int:
        value = 0
        for index in range(_MAX_VARINT_BYTES):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index:
                    raise Malformed(_("the 2FA code pack has a non-minimal number"))
                return value
        raise Malformed(_("the 2FA code pack has an oversized number"))


def unpack(data: bytes) -> CodeBook:
    """The book packed in `data`; Malformed for anything `pack` would not have written."""
    if not isinstance(data, bytes | bytearray):
        raise Malformed(_("the 2FA code pack is not bytes"))
    reader = _Reader(bytes(data))
    version = reader.take(1)[0]
    if version != PACK_VERSION:
        raise Malformed(_("unknown 2FA code pack version {version}").format(version=version))
    digits, period = reader.take(1)[0], int.from_bytes(reader.take(2), "big")
    if digits not in WIDTH or not 10 <= period <= 300:
        raise Malformed(_("the 2FA code pack has unsupported digits or period"))
    runs = _read_runs(reader, period)
    total = sum(count for _start, count in runs)
    width = WIDTH[digits]
    rest = len(reader.data) - reader.at
    expected = (total * width + 7) // 8
    if rest < expected:
        raise Malformed(_("the 2FA code pack is truncated"))
    if rest > expected:
        raise Malformed(_("the 2FA code pack is too long"))
    codes = _unpack_codes(reader.take(rest), total, width)
    if any(code >= 10**digits for code in codes):
        raise Malformed(_("the 2FA code pack holds a code with too many digits"))
    return CodeBook(period, digits, runs, codes)


def _read_runs(reader: _Reader, period: int) -> list[tuple[int, int]]:
    count_runs = reader.varint()
    if count_runs > MAX_CODES:
        raise Malformed(_("the 2FA code pack holds too many runs"))
    runs: list[tuple[int, int]] = []
    end = total = 0
    for index in range(count_runs):
        gap, count = reader.varint(), reader.varint()
        if (index and gap == 0) or count == 0:
            raise Malformed(_("the 2FA code pack has an empty run or touching runs"))
        start = end + gap
        end, total = start + count, total + count
        if total > MAX_CODES or end * period > MAX_SECONDS:
            raise Malformed(_("the 2FA code pack holds too many codes or too late a step"))
        runs.append((start, count))
    return runs


def _unpack_codes(data: bytes, total: int, width: int) -> array[int]:
    mask = (1 << width) - 1
    padded = data + bytes(-len(data) % width)
    codes = array("L")
    for index in range(0, len(padded), width):
        value = int.from_bytes(padded[index : index + width], "big")
        codes.extend((value >> width * (7 - slot)) & mask for slot in range(8))
    # past the last code only the zero bits up to the byte boundary (and our zero fill)
    if any(codes[total:]):
        raise Malformed(_("the 2FA code pack has non-zero padding bits"))
    del codes[total:]
    return codes
