"""One credential read from another tool, in takusu's item shape, and what a reader returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..item import Payload, empty_payload


@dataclass
class Record:
    """One entry of a source file. `place` says where it was ("row 12", "entry 3 in
    Banking/Acme") for messages; it never holds a secret. repr never shows values."""

    title: str
    place: str
    username: str | None = None
    password: str | None = None
    url: str | None = None
    notes: str | None = None
    totp: str | None = None  # always a validated otpauth:// URI (vault.totp.normalize)
    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    favorite: bool = False
    notices: list[str] = field(default_factory=list)  # e.g. "an attachment was not imported"

    def payload(self) -> Payload:
        """The item payload this record becomes."""
        item = empty_payload()
        item["title"] = self.title
        item["username"] = self.username or None
        item["password"] = self.password or None
        item["url"] = self.url or None
        item["notes"] = self.notes or None
        item["totp"] = self.totp or None
        item["fields"] = dict(self.fields)
        item["tags"] = sorted(set(self.tags) | ({"favorite"} if self.favorite else set()))
        return item

    def __repr__(self) -> str:
        return f"<Record {self.place} <redacted>>"


@dataclass
class Refusal:
    """A row or entry that was not read, and why (the reason never holds a secret)."""

    place: str
    reason: str


@dataclass
class ReadResult:
    """What a reader found in one source: the records, and the rows it refused or skipped."""

    format: str
    records: list[Record] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)  # bad rows: reported, nothing imported
    skipped: list[Refusal] = field(default_factory=list)  # on purpose: blank, trash, totals
    notices: list[str] = field(default_factory=list)  # about the whole file


@dataclass
class ReadOptions:
    """How to read a source. `mapping` is `--map COLUMN=FIELD` (FIELD: title, username,
    password, url, notes, totp, tags, or any other name for a custom field); `password`
    is asked only by a format that needs one (kdbx), and never echoed."""

    mapping: dict[str, str] = field(default_factory=dict)
    skip_bad_totp: bool = False
    password: Callable[[], str] | None = None
