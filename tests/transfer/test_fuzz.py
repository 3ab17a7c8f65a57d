"""Any bytes, mutated exports and odd JSON shapes give a record, a refusal or one of
takusu's own errors: never another exception."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transfer.builders import FILES, make_1pux
from vault.errors import TakusuError
from vault.transfer import read_source
from vault.transfer.collect import Collector
from vault.transfer.detect import detect
from vault.transfer.passstore import parse_entry
from vault.transfer.record import ReadOptions

# sized so that the whole tests/transfer directory stays near 30 s on a shared machine;
# raise max_examples locally for a longer hunt
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS = {
    "csv": "spreadsheet-ja.csv",
    "chrome": "chrome.csv",
    "firefox": "firefox.csv",
    "safari": "safari.csv",
    "bitwarden-json": "bitwarden.json",
    "bitwarden-csv": "bitwarden.csv",
    "1password-csv": "1password.csv",
    "keepassxc-csv": "keepassxc.csv",
}


@pytest.fixture(scope="module")
def spot(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "source"


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (position, operation, byte) edits: 0 replace, 1 insert, 2 delete, 3 cut."""
    out = bytearray(data)
    for position, operation, value in edits:
        at = position % (len(out) + 1)
        if operation == 0 and at < len(out):
            out[at] = value
        elif operation == 1:
            out[at:at] = bytes([value]) * (1 + value % 3)
        elif operation == 2:
            del out[at : at + 1 + value % 8]
        elif operation == 3:
            del out[at:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 16), st.integers(0, 3), st.integers(0, 255)), max_size=8
)
OPTIONS = st.builds(ReadOptions, skip_bad_totp=st.booleans())


def outcome(path: Path, fmt: str | None, options: ReadOptions) -> None:
    try:
        result = read_source(path, fmt, options)
    except TakusuError as exc:
        assert exc.message
        return
    for record in result.records:
        assert 1 <= len(record.title) <= 200
        # a URI's scheme is case-insensitive, and totp.normalize keeps it as written
        # (tests/test_totp.py: OTPAUTH://TOTP/... is accepted unchanged)
        assert record.totp is None or record.totp.lower().startswith("otpauth://")


@pytest.mark.parametrize("fmt", sorted(SEEDS))
@FUZZ
@given(edits=EDITS, options=OPTIONS)
def test_mutated_exports(spot, fmt, edits, options):
    spot.write_bytes(mutate((FILES / SEEDS[fmt]).read_bytes(), edits))
    outcome(spot, fmt, options)


@pytest.mark.parametrize("fmt", sorted(SEEDS) + ["1pux"])
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(spot, fmt, data):
    spot.write_bytes(data)
    outcome(spot, fmt, ReadOptions())


@FUZZ
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"", b"PK\x03\x04", b"{", b"<"]))
def test_detect_on_random_bytes(spot, data, prefix):
    spot.write_bytes(prefix + data)
    try:
        assert detect(spot) in {
            *SEEDS,
            "1pux",
            "keepass-xml",
            "kdbx",
        }
    except TakusuError:
        pass


KEYS = [
    # Bitwarden
    "items", "folders", "collections", "type", "name", "notes", "favorite", "folderId",
    "collectionIds", "login", "uris", "uri", "username", "password", "totp", "fields",
    "value", "card", "identity", "sshKey", "passwordHistory", "fido2Credentials",
    "deletedDate", "attachments", "id", "encrypted",
    # 1PUX
    "accounts", "vaults", "attrs", "overview", "details", "title", "url", "urls", "tags",
    "loginFields", "designation", "fieldType", "sections", "notesPlain", "state", "trashed",
    "favIndex", "string", "concealed", "date", "monthYear", "email", "address", "file",
    "email_address", "documentAttributes",
]  # fmt: skip
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.sampled_from(["1", "login", "archived", "trashed", "username", "password", "T"])
    | st.sampled_from(["JBSWY3DPEHPK3PXP", "steam://X", "otpauth://totp/x?secret=A"])
    | st.text(max_size=12)
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=15,
)
ITEMS = st.lists(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8), max_size=4)


@FUZZ
@given(items=ITEMS, folders=JSON, options=OPTIONS)
def test_bitwarden_json_shapes(spot, items, folders, options):
    spot.write_text(json.dumps({"encrypted": False, "folders": folders, "items": items}))
    outcome(spot, "bitwarden-json", options)


@FUZZ
@given(items=ITEMS, attrs=JSON, options=OPTIONS)
def test_1pux_shapes(spot, items, attrs, options):
    doc = {"accounts": [{"attrs": {}, "vaults": [{"attrs": attrs, "items": items}]}]}
    make_1pux(spot, doc, attachments=0)
    outcome(spot, "1pux", options)


@FUZZ
@given(edits=EDITS)
def test_mutated_1pux_archives(spot, edits):
    buffer = io.BytesIO()
    make_1pux(spot)
    buffer.write(mutate(spot.read_bytes(), edits))
    spot.write_bytes(buffer.getvalue())
    outcome(spot, "1pux", ReadOptions())


@FUZZ
@given(edits=EDITS)
def test_mutated_export_data_inside_a_good_zip(spot, edits):
    data = mutate((FILES / "1pux-export.data.json").read_bytes(), edits)
    make_1pux(spot, data, compression=zipfile.ZIP_STORED)
    outcome(spot, "1pux", ReadOptions())


@FUZZ
@given(text=st.text(max_size=300), options=OPTIONS)
def test_pass_entries_of_any_text(text, options):
    out = Collector("pass", options)

    def make():  # as the reader does: the path is the title
        entry = parse_entry(text, "x")
        entry.title = "Banking/x"
        return entry

    out.attempt("x", make)
    assert len(out.result.records) + len(out.result.refused) == 1
