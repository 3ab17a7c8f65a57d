"""Mask secret values in a byte stream that arrives in pieces (a child's stdout or stderr).

Every byte covered by an occurrence of any secret is masked; occurrences that overlap or
touch form one run, and each run becomes one `MASK`. So of two overlapping secrets neither
shows, and a secret that contains another is masked whole. Everything else passes through
byte for byte (binary output included). The result does not depend on how the stream was
cut into pieces: output is held back only while its end could still be the beginning of a
secret, and only those bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = b"********"


class Masker:
    """A streaming masker: `feed()` each piece as it arrives and write what it returns;
    `end()` once at the end of the stream for what was held back."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self._patterns = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._longest = len(self._patterns[0]) if self._patterns else 0
        self._firsts = {p[0] for p in self._patterns}
        self._tail = b""  # bytes not yet written: they may still grow into a secret
        # `_open`: the last thing written was a MASK whose run may go on into the tail;
        # `_covered`: how many leading bytes of the tail that MASK already stands for.
        self._open = False
        self._covered = 0

    def __repr__(self) -> str:
        return "<Masker redacted>"

    def feed(self, data: bytes) -> bytes:
        """The masked bytes that can be written now."""
        buf = self._tail + data
        return self._emit(buf, self._hold_from(buf))

    def end(self) -> bytes:
        """The rest, masked: call once when the stream has ended."""
        return self._emit(self._tail, len(self._tail))

    def _hold_from(self, buf: bytes) -> int:
        """The first position whose rest of `buf` is a proper prefix of some secret."""
        n = len(buf)
        for q in range(max(0, n - self._longest + 1), n):
            if buf[q] in self._firsts:
                rest = buf[q:]
                if any(len(p) > len(rest) and p.startswith(rest) for p in self._patterns):
                    return q
        return n

    def _runs(self, buf: bytes) -> list[tuple[int, int]]:
        """Maximal runs (start, end) of bytes covered by occurrences, touching ones merged."""
        spans = [(0, self._covered)] if self._open else []
        for p in self._patterns:
            i = buf.find(p)
            while i >= 0:
                spans.append((i, i + len(p)))
                i = buf.find(p, i + 1)
        spans.sort()
        runs: list[tuple[int, int]] = []
        for start, stop in spans:
            if runs and start <= runs[-1][1]:
                runs[-1] = (runs[-1][0], max(runs[-1][1], stop))
            else:
                runs.append((start, stop))
        return runs

    def _emit(self, buf: bytes, hold: int) -> bytes:
        """Write out buf[:hold] masked; keep buf[hold:] (a future secret can start only there)."""
        out: list[bytes] = []
        cursor = self._covered if self._open else 0  # buf[:cursor] is already written
        last_end = self._covered if self._open else None
        for start, stop in self._runs(buf):
            if start >= hold:
                break
            if start > cursor:
                out.append(buf[cursor:start])
            if not (self._open and start == 0):  # else the MASK written before goes on
                out.append(MASK)
            cursor = max(cursor, stop)
            last_end = stop
        if cursor < hold:
            out.append(buf[cursor:hold])
            cursor = hold
        self._tail = buf[hold:]
        self._open = last_end is not None and last_end >= hold
        self._covered = cursor - hold if self._open else 0
        return b"".join(out)
