"""What the audit reads, and the two readers it leans on per row: an audit of 10,000 items
takes its titles from the encrypted summary index (not one decryption per item), reads the
times `stamp` wrote by slicing, and walks a line character by character only when it holds
something to escape. Each shortcut is compared with the way it replaced."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import ok
from vault import audit
from vault.clock import STAMP, parse_time, stamp
from vault.session import Session


def _strptime(text: str) -> datetime | str:
    try:
        return datetime.strptime(text, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return "refused"


def _parsed(text: str) -> datetime | str:
    try:
        return parse_time(text)
    except ValueError:
        return "refused"


_DIGITISH = st.sampled_from("0123456789012345678901234567890123456789٣۵")


@st.composite
def near_stamps(draw: st.DrawFn) -> str:
    """A written stamp with a few characters changed: digits out of range, other digits,
    lower-case letters, separators moved."""
    when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    text = list(stamp(when.replace(tzinfo=UTC)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text) - 1))
        text[at] = draw(st.one_of(_DIGITISH, st.sampled_from("tzTZ-: x")))
    return "".join(text)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(near_stamps(), st.text(alphabet="0123456789-T:Z t", min_size=18, max_size=22)))
def test_parse_time_reads_what_strptime_reads_and_refuses_what_it_refuses(text):
    assert _parsed(text) == _strptime(text)


def test_parse_time_keeps_the_edges_of_the_format():
    assert parse_time("2026-12-01T16:42:51Z") == datetime(2026, 12, 1, 16, 42, 51, tzinfo=UTC)
    for refused in ("2026-02-30T00:00:00Z", "2026-12-01T16:42:60Z", "0000-01-01T00:00:00Z"):
        assert _parsed(refused) == "refused"
    # strptime has always taken these; the slicing reader leaves them to it
    assert parse_time("2026-12-01t16:42:51z") == parse_time("2026-12-01T16:42:51Z")


def _walked(text: str) -> str:
    """The character walk `_escape` does for a line that holds something to escape."""
    return "".join(
        ch
        if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029"
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text
    )


@settings(max_examples=3000, deadline=None)
@given(st.text())
def test_escape_gives_what_the_character_walk_gives(text):
    assert audit._escape(text) == _walked(text)  # noqa: SLF001


def test_escape_still_escapes_what_a_member_could_sign():
    for hostile in ("a\x1b[2Jb", "x\u202ey", "line\u2028break", "tab\there", "全角\u3000空白\x07"):
        assert audit._escape(hostile) == _walked(hostile) != hostile  # noqa: SLF001


def test_the_audit_takes_titles_from_the_index_and_decrypts_only_deleted_items(world, monkeypatch):
    for n in range(6):
        ok(world.c("add", f"Extra {n}", "--password-stdin", input=f"extra-{n}\n"))
    ok(world.c("edit", "Extra 1", "--title", "Renamed"))
    ok(world.c("rm", "Extra 2", "--yes"))
    ok(world.c("share", "Renamed", "--with", "aiko"))
    ok(world.s("get", "Renamed"))

    decrypted: list[str] = []
    real_payload = Session.payload

    def counting(self, item_id):
        decrypted.append(item_id)
        return real_payload(self, item_id)

    for session in (world.client_session(), world.secretary_session()):
        expected = {i: real_payload(session, i)["title"] for i in session.readable()}
        deleted = []
        if session.is_owner:
            deleted = [i for i, it in session.state["items"].items() if it["deleted"]]
            expected.update({i: real_payload(session, i)["title"] for i in deleted})
        decrypted.clear()
        monkeypatch.setattr(Session, "payload", counting)
        rows = audit.timeline(session)
        monkeypatch.setattr(Session, "payload", real_payload)
        assert sorted(decrypted) == sorted(deleted)
        titled = {row["item"]: row["title"] for row in rows if row.get("item") in expected}
        assert titled and titled == {i: expected[i] for i in titled}
        assert "Renamed" in titled.values()
    owner_rows = audit.timeline(world.client_session())
    assert {"Extra 2", "Renamed", "Bank"} <= {row.get("title") for row in owner_rows}
