"""`takusu report` on a real vault, rendered by the real headless Chromium: the numbers on
the page are the audit's own (`takusu audit --json`), what a member wrote stays text, a
damaged trail turns the banner red with its place, and the summary agrees with the page.
The page's rendering itself is tested in depth in tests/test_report.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import ok
from tests.logs import append_raw
from tests.test_report import Node, chromium, parse
from tests.world import World, build

EVIL_REASON = "</td><script>document.title='pwned'</script><img src=x onerror=alert(1)>"


@pytest.fixture
def w(tmp_path) -> World:
    """The story's world with a day of work: Aiko shows, gets and asks for 2FA codes."""
    world = build(tmp_path)
    ok(world.c("share", "Bank", "--with", "aiko", "--expires", "7d"))
    ok(world.s("get", "GitHub", "--reason", "monthly invoices"))
    ok(world.s("otp", "GitHub", "--reason", "log in"))
    ok(world.s("show", "GitHub"))
    ok(world.s("get", "Bank", "--reason", EVIL_REASON))
    return world


def retrieve_rows(w: World, *args: str) -> list[dict]:
    rows = json.loads(ok(w.c("audit", "--json", *args)).out)
    return [r for r in rows if r["type"] == "retrieve"]


def render(w: World, tmp_path: Path, *args: str) -> Node:
    page = tmp_path / "report.html"
    done = ok(w.c("report", "--html", str(page), *args))
    assert done.out == f"Wrote the report to {page}\n"
    dumped = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    return parse(dumped)


def test_the_page_counts_what_the_audit_counts(w, tmp_path):
    rows = retrieve_rows(w)
    assert len(rows) == 4
    dom = render(w, tmp_path)
    assert dom.one(id="total-retrievals").attrs["data-count"] == str(len(rows))
    block = dom.one("section", "member", data_member="aiko")
    assert block.attrs["data-count"] == "4"
    per_title = Counter(r["title"] for r in rows)
    for group in block.find_all("tbody", "item"):
        assert int(group.attrs["data-count"]) == per_title[group.attrs["data-title"]]
    assert sorted(g.attrs["data-title"] for g in block.find_all("tbody", "item")) == sorted(
        per_title
    )
    assert "monthly invoices" in block.text()
    grants = dom.one("section", id="access").find_all("tr", "grant")
    assert len(grants) == 2  # GitHub and Bank for aiko
    banner = dom.one(id="verification")
    assert banner.attrs["data-verified"] == "true"


def test_what_a_member_wrote_is_text_not_markup(w, tmp_path):
    dom = render(w, tmp_path)
    assert dom.find_all("script") == []
    assert dom.find_all("img") == []
    assert EVIL_REASON in dom.one("section", "member", data_member="aiko").text()
    assert dom.one("head").one("title").text() != "pwned"


def test_a_damaged_member_log_turns_the_banner_red_and_names_the_place(w, tmp_path):
    append_raw(w.member_log, b'{"v":1,"p":"garbage","s":"x"}')
    dom = render(w, tmp_path)
    banner = dom.one(id="verification")
    assert banner.attrs["data-verified"] == "false"
    problems = [li.text() for li in banner.find_all("li", "problem")]
    assert problems and all(f"log {w.member_id[:12]}" in p for p in problems), problems


def test_one_member_and_a_period(w, tmp_path):
    since = "2000-01-01"
    rows = retrieve_rows(w, "--member", "aiko", "--since", since)
    dom = render(w, tmp_path, "--member", "aiko", "--since", since)
    assert dom.one(id="total-retrievals").attrs["data-count"] == str(len(rows))
    future = render(w, tmp_path, "--since", "2999-01-01")
    assert future.one(id="total-retrievals").attrs["data-count"] == "0"


def test_the_summary_agrees_with_the_audit(w):
    done = ok(w.c("report"))
    assert "Retrievals: 4" in done.out
    assert "aiko: 4 (GitHub 3, Bank 1)" in done.out
    assert "The audit trail checks out." in done.out


def test_bad_options_are_refused_before_any_passphrase(w, tmp_path):
    bad = w.c("report", "--since", "3m", passphrase=None)
    assert bad.code == 2 and "3m" in bad.err
    folder = w.c("report", "--html", str(tmp_path), passphrase=None)
    assert folder.code == 2 and "is a directory" in folder.err
    member = w.s("report")
    assert member.code == 1 and "owner" in member.err


def test_the_page_speaks_the_readers_language(w, tmp_path):
    page = tmp_path / "ja.html"
    ok(w.c("report", "--html", str(page), env={"TAKUSU_LANG": "ja"}))
    assert '<html lang="ja"' in page.read_text(encoding="utf-8")
