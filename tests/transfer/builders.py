"""Builders for the import tests: read a file, zip a 1PUX, collect every message text."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from vault.errors import TakusuError
from vault.transfer import read_source
from vault.transfer.record import ReadOptions, ReadResult, Record

FILES = Path(__file__).parent / "files"


def read(path: Path, fmt: str | None, **options: object) -> ReadResult:
    return read_source(path, fmt, ReadOptions(**options))  # type: ignore[arg-type]


def by_title(result: ReadResult) -> dict[str, Record]:
    return {r.title: r for r in result.records}


def places(result: ReadResult) -> dict[str, str]:
    """place -> reason of every refusal."""
    return {r.place: r.reason for r in result.refused}


def skipped(result: ReadResult) -> dict[str, str]:
    return {r.place: r.reason for r in result.skipped}


def message_texts(result: ReadResult) -> list[str]:
    """Everything a reader says about a source: places, reasons, notices, reprs."""
    texts = list(result.notices)
    for r in result.refused + result.skipped:
        texts += [r.place, r.reason]
    for record in result.records:
        texts += [record.place, repr(record), *record.notices]
    return texts


def error_texts(exc: TakusuError) -> list[str]:
    return [str(exc), exc.message, exc.hint or "", repr(exc)]


def assert_clean(texts: list[str], *canaries: str) -> None:
    for text in texts:
        for canary in canaries:
            assert canary not in text, f"{canary!r} leaked into {text!r}"


def make_1pux(
    path: Path,
    data: bytes | dict[str, object] | None = None,
    *,
    attachments: int = 1,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A .1pux archive: export.attributes, export.data (the fixture unless given) and
    `attachments` files under files/."""
    if data is None:
        data = (FILES / "1pux-export.data.json").read_bytes()
    elif isinstance(data, dict):
        data = json.dumps(data).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        attrs = {"version": 3, "description": "1Password Unencrypted Export", "createdAt": 1}
        archive.writestr("export.attributes", json.dumps(attrs))
        archive.writestr("export.data", data)
        for n in range(attachments):
            archive.writestr(f"files/doc{n}__contract.pdf", b"%PDF-1.4 not really\n")
    path.write_bytes(buffer.getvalue())
    return path
