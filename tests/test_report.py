"""The client's report (vault/report.py), rendered in a real headless Chromium.

The page is checked as the client's browser sees it: the DOM Chromium builds (--dump-dom),
a screenshot at A4 size decoded with zlib, one PDF, and Chromium's net log (the page loads
nothing, even with markup injected). Hostile names, reasons and titles must stay text.
Chromium is required: these tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vault import report
from vault.report import (
    CSP,
    AccessRow,
    ExposedRow,
    ReportData,
    RetrievalRow,
    fmt_time,
    per_day,
    render_html,
    render_text,
    terminal_safe,
)

JST = timezone(timedelta(hours=9))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Chromium still calls home (update, time, accounts) despite the flags above: no name
    # resolves, so nothing leaves the machine; the net log still records what was asked
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
A4_PX = (794, 1123)  # A4 at 96 dpi
RED_BANNER = (0xFD, 0xEC, 0xEA)  # .banner.bad background
GREEN_BANNER = (0xE8, 0xF5, 0xEC)  # .banner.ok background
BAR = (0x2F, 0x5F, 0xA8)  # .chart .bar


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=JST)


def realistic() -> ReportData:
    r = RetrievalRow
    return ReportData(
        vault_name="田中商店",
        owner_name="田中 一郎",
        generated_at=jst(8, 16, 7),
        zone_label="Asia/Tokyo (+09:00)",
        since=jst(1, 0),
        member_filter=None,
        verified=False,
        problems=[
            "log 3f2a…, seq 12: signature does not verify",
            "log 9c01…, seq 4: a record is missing before it",
        ],
        access=[
            AccessRow(
                "佐藤 美咲", "三井住友銀行", ["username", "password", "totp-code"],
                "平日 9:00–18:00", jst(31, 23, 59),
            ),
            AccessRow("佐藤 美咲", "freee 会計", None, None, None),
            AccessRow("鈴木 健", "楽天市場 RMS", ["password"], None, jst(5, 12)),  # ended
        ],
        retrievals=[
            r(jst(1, 9, 12), "佐藤 美咲", "三井住友銀行", ["password"], "月次の振込", None),
            r(jst(1, 9, 13), "佐藤 美咲", "三井住友銀行", ["totp-code"], "月次の振込", "req-0001"),
            r(jst(3, 14, 2), "鈴木 健", "楽天市場 RMS", ["password"], "商品ページの更新", None),
            r(jst(3, 15, 30), "佐藤 美咲", "freee 会計", ["username", "password"], None, None),
            r(jst(3, 15, 31), "佐藤 美咲", "freee 会計", ["password"], "請求書の確認", None),
            r(jst(6, 10, 0), "鈴木 健", "楽天市場 RMS", ["totp-seed"], "新しい端末の設定", "req-2"),
            r(
                jst(8, 11, 45), "佐藤 美咲", "三井住友銀行", ["password", "totp-code"],
                "月次の振込", None,
            ),
        ],
        exposed=[
            ExposedRow(
                "楽天市場 RMS", "https://glogin.rms.rakuten.co.jp/", "鈴木 健", jst(6, 18),
                ["password", "totp-seed"], True, jst(3, 14, 2), jst(6, 10, 0), False,
            ),
            ExposedRow(
                "Amazon セラーセントラル", None, "鈴木 健", jst(2, 9), [], False, None, None, True
            ),
        ],
        members=["佐藤 美咲", "鈴木 健", "山本 花子"],
    )  # fmt: skip


EVIL_MEMBER = "<img src=x onerror=alert(1)>"
EVIL_REASON = "</td><script>alert(1)</script>"
EVIL_TITLE = "銀行\x1b[2J\u202egnp.exe\x9b"
EVIL_URL = "https://evil.example/steal?x=1"


def hostile() -> ReportData:
    data = realistic()
    return replace(
        data,
        vault_name='"><svg onload=alert(1)>',
        problems=["log <b>x</b>, seq 1: \u202etrap"],
        access=[AccessRow(EVIL_MEMBER, EVIL_TITLE, [EVIL_REASON], EVIL_REASON, None)],
        retrievals=[
            RetrievalRow(jst(2, 9), EVIL_MEMBER, EVIL_TITLE, ["<i>x</i>"], EVIL_REASON, "a'b\"c")
        ],
        exposed=[
            ExposedRow(EVIL_TITLE, EVIL_URL, EVIL_MEMBER, jst(2, 9), [], True, None, None, False)
        ],
        members=[EVIL_MEMBER],
        member_filter=EVIL_MEMBER,
    )


# ---- a small DOM from the standard library's HTML parser ------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: Node | None):
        self.tag, self.parent = tag, parent
        self.attrs = {k: v or "" for k, v in attrs}
        self.children: list[Node | str] = []

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.attrs.get("class", "").split())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, len(found))
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", [], None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(markup: str) -> Node:
    builder = TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


# ---- Chromium ------------------------------------------------------------------------------


def chromium(workdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run Debian's Chromium headless with a new, empty profile; fail if it is missing."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("the report tests need Chromium: apt-get install chromium", pytrace=False)
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def write_page(workdir: Path, name: str, data: ReportData, **kw: str) -> Path:
    path = workdir / f"{name}.html"
    path.write_text(render_html(data, **kw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def page(workdir: Path) -> Path:
    return write_page(workdir, "realistic", realistic(), lang="ja")


@pytest.fixture(scope="module")
def dom(workdir: Path, page: Path) -> Node:
    return parse(chromium(workdir, "--dump-dom", page.as_uri()).stdout.decode("utf-8"))


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked the network for (Chromium's own calls have no origin)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]


def load(workdir: Path, name: str, markup: str) -> tuple[str, list[str]]:
    """The DOM Chromium builds from `markup`, and the network requests the page made."""
    path, net_log = workdir / f"{name}.html", workdir / f"{name}.netlog.json"
    path.write_text(markup, encoding="utf-8")
    done = chromium(workdir, f"--log-net-log={net_log}", "--dump-dom", path.as_uri())
    return done.stdout.decode("utf-8"), page_requests(net_log)


@pytest.fixture(scope="module")
def hostile_dom(workdir: Path) -> tuple[str, Node]:
    dumped, requests = load(workdir, "hostile", render_html(hostile()))
    assert requests == []
    return dumped, parse(dumped)


def screenshot(workdir: Path, page: Path, name: str) -> bytes:
    out = workdir / f"{name}.png"
    size = f"--window-size={A4_PX[0]},{A4_PX[1]}"
    chromium(workdir, f"--screenshot={out}", size, page.as_uri())
    return out.read_bytes()


# ---- PNG, read with zlib --------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and each row as RGB bytes of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, idat = 8, {}, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length :][:4])[0]
        idat += body if kind == b"IDAT" else b""
        chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, channels)
        rgb = bytearray(row)
        if channels == 4:
            del rgb[3::4]  # drop alpha
        rows.append(bytes(rgb))
        prev = row
    return width, height, rows


def unfilter(kind: int, row: bytearray, prev: bytearray, bpp: int) -> bytearray:
    if kind == 1:
        for i in range(bpp, len(row)):
            row[i] = (row[i] + row[i - bpp]) & 0xFF
    elif kind == 2:
        row = bytearray((a + b) & 0xFF for a, b in zip(row, prev, strict=True))
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return row


def colours(rows: list[bytes]) -> Counter[bytes]:
    counts: Counter[bytes] = Counter()
    for row in rows:
        counts.update(row[i : i + 3] for i in range(0, len(row), 3))
    return counts


# ---- the realistic page, as Chromium builds it ---------------------------------------------


def test_the_banner_says_the_trail_fails_and_where(dom: Node):
    banner = dom.one(id="verification")
    assert banner.attrs["data-verified"] == "false"
    assert "bad" in banner.attrs["class"].split() and banner.attrs["role"] == "alert"
    assert "does NOT check out" in banner.one("h2").text()
    problems = [li.text() for li in banner.find_all("li", "problem")]
    assert problems == realistic().problems
    # the banner is the first thing after the heading
    sections = [n for n in dom.one("body").children if isinstance(n, Node)]
    assert [n.tag for n in sections[:2]] == ["header", "section"]
    assert sections[1] is banner


def test_the_page_numbers_equal_the_data(dom: Node):
    data = realistic()
    assert dom.one(id="total-retrievals").attrs["data-count"] == str(len(data.retrievals))
    assert dom.one(id="exposed-count").attrs["data-count"] == "2"
    assert dom.one(id="seeds-seen").attrs["data-count"] == "1"
    assert dom.one(id="members-retrieving").attrs["data-count"] == "2"
    per_member = Counter(r.member for r in data.retrievals)
    blocks = dom.find_all("section", "member")
    assert [b.attrs["data-member"] for b in blocks] == data.members  # 山本 花子 too, with 0
    for block in blocks:
        assert block.attrs["data-count"] == str(per_member[block.attrs["data-member"]])
        rows = block.find_all("tr", "retrieval")
        assert len(rows) == per_member[block.attrs["data-member"]]
        for group in block.find_all("tbody", "item"):
            assert group.attrs["data-count"] == str(len(group.find_all("tr", "retrieval")))
    sato = dom.one("section", "member", data_member="佐藤 美咲")
    assert [g.attrs["data-title"] for g in sato.find_all("tbody", "item")] == [
        "三井住友銀行",
        "freee 会計",
    ]
    assert "月次の振込" in sato.text() and "2026-12-01 09:12 (+09:00)" in sato.text()


def test_the_chart_has_a_bar_for_every_day_with_the_right_count(dom: Node):
    data = realistic()
    counts = Counter(r.at.date().isoformat() for r in data.retrievals)
    expected = [(f"2026-12-{d:02d}", counts[f"2026-12-{d:02d}"]) for d in range(1, 9)]
    chart = dom.one("svg", id="chart")
    bars = chart.find_all("rect", "bar")
    assert [(b.attrs["data-date"], int(b.attrs["data-count"])) for b in bars] == expected
    for bar, (day, count) in zip(bars, expected, strict=True):
        assert bar.one("title").text() == f"Retrievals on {day}: {count}"
        assert (float(bar.attrs["height"]) > 0) == (count > 0)
    tallest = max(bars, key=lambda b: float(b.attrs["height"]))
    assert int(tallest.attrs["data-count"]) == max(counts.values())
    labels = [t.text() for t in chart.find_all("text")]
    assert "12-01" in labels and "Retrievals" in labels and "0" in labels
    listed = []
    for row in dom.one(id="per-day").find_all("tr"):
        day = [td.attrs["data-date"] for td in row.find_all("td") if "data-date" in td.attrs]
        count = [td.attrs["data-count"] for td in row.find_all("td") if "data-count" in td.attrs]
        if day:
            listed.append((day[0], int(count[0])))
    assert listed == expected


def test_who_can_read_what_marks_the_ended_grant(dom: Node):
    rows = dom.one("section", id="access").find_all("tr", "grant")
    assert [r.attrs["data-ended"] for r in rows] == ["false", "false", "true"]
    cells = [[td.text() for td in r.find_all("td")] for r in rows]
    assert cells[0] == [
        "佐藤 美咲",
        "三井住友銀行",
        "user name, password, 2FA code",
        "平日 9:00–18:00",
        "2026-12-31 23:59 (+09:00)",
    ]
    assert cells[1][2] == "everything" and cells[1][4] == "no end date"
    assert cells[2][4] == "ended 2026-12-05 12:00 (+09:00)"


def test_what_to_change_puts_the_seen_seed_first_and_says_what_it_means(dom: Node):
    cards = dom.one("section", id="change").find_all("article", "exposed")
    assert [c.attrs["data-title"] for c in cards] == ["楽天市場 RMS", "Amazon セラーセントラル"]
    seed, deleted = cards
    assert seed.attrs["data-seed-seen"] == "true" and "seed" in seed.attrs["class"].split()
    assert seed.one("span", "seed").text() == "2FA seed seen"
    assert "can make valid 2FA codes" in seed.text() and "reset at the site" in seed.text()
    todo = [li.text() for li in seed.one("ul", "todo").find_all("li")]
    assert todo[0].startswith("Reset the 2FA") and todo[1].startswith("Change the password")
    assert "2026-12-03 14:02 (+09:00)" in seed.text() and "2026-12-06 10:00 (+09:00)" in seed.text()
    assert seed.one("span", "url").text() == "https://glogin.rms.rakuten.co.jp/"
    assert deleted.attrs["data-deleted"] == "true" and deleted.attrs["data-seed-seen"] == "false"
    assert "No retrieval was recorded" in deleted.text()


def test_the_honest_note_and_the_page_head(dom: Node):
    note = dom.one("section", id="note").text()
    assert "reported by each member's own takusu" in note
    assert "cannot be unseen" in note
    assert "stay valid until they expire" in note
    assert dom.one("html").attrs["lang"] == "ja"
    metas = dom.one("head").find_all("meta")
    assert metas[0].attrs == {"charset": "utf-8"}
    assert metas[1].attrs == {"http-equiv": "Content-Security-Policy", "content": CSP}
    assert dom.find_all("script") == [] and dom.find_all("link") == []
    for word in ("receipt", "re-key", "base32", "AES", "Ed25519", "HPKE"):
        assert word.lower() not in dom.one("body").text().lower()


# ---- what the client sees and prints -------------------------------------------------------


def test_the_screenshot_shows_the_red_banner_on_top_and_the_chart(workdir: Path, page: Path):
    width, height, rows = png_pixels(screenshot(workdir, page, "failing"))
    assert (width, height) == A4_PX
    top, whole = colours(rows[: height // 3]), colours(rows)
    assert top[bytes(RED_BANNER)] > 0.05 * width * (height // 3), "no red banner near the top"
    assert whole[bytes(GREEN_BANNER)] == 0
    assert whole[bytes(BAR)] > 1000, "no chart bars on the first screen"
    assert len(whole) > 100, "too few colours for a page of text"
    assert whole[b"\xff\xff\xff"] < 0.9 * width * height, "the page is almost blank"


def test_a_verified_trail_shows_green(workdir: Path):
    data = replace(realistic(), verified=True, problems=[])
    path = write_page(workdir, "verified", data)
    width, height, rows = png_pixels(screenshot(workdir, path, "verified"))
    top = colours(rows[: height // 3])
    assert top[bytes(GREEN_BANNER)] > 0.03 * width * (height // 3)
    assert top[bytes(RED_BANNER)] == 0


def test_it_prints_to_an_a4_pdf(workdir: Path, page: Path):
    out = workdir / "report.pdf"
    chromium(workdir, f"--print-to-pdf={out}", "--no-pdf-header-footer", page.as_uri())
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf)
    assert len(pages) >= 2 and len(boxes) >= len(pages)
    for w, h in boxes:  # A4 is 595.3 x 841.9 points
        assert abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2, (w, h)


# ---- hostile text --------------------------------------------------------------------------


def test_hostile_text_stays_text_in_the_browser(hostile_dom: tuple[str, Node]):
    dumped, dom = hostile_dom
    tags = {n.tag for n in dom.iter()}
    assert not tags & {"img", "script", "b", "i", "iframe", "object", "embed"}, tags
    assert len(dom.find_all("svg")) == 1  # the chart, not the vault name's <svg onload>
    for node in dom.iter():
        assert not [a for a in node.attrs if a.startswith("on")], (node.tag, node.attrs)
    member = dom.one("section", "member")
    assert member.attrs["data-member"] == EVIL_MEMBER
    assert member.one("h3").one("bdi").text() == EVIL_MEMBER  # isolated from its sentence
    assert dom.one("head").one("title").text() == 'Access report: "><svg onload=alert(1)>'
    reasons = [tr.find_all("td")[2].text() for tr in member.find_all("tr", "retrieval")]
    assert reasons == [EVIL_REASON]
    assert dom.one(id="verification").one("li").text() == "log <b>x</b>, seq 1: \\u202etrap"
    shown = terminal_safe(EVIL_TITLE)
    assert shown == "銀行\\x1b[2J\\u202egnp.exe\\x9b"
    assert dom.one("article", "exposed").one("h3").text().startswith(shown)
    for raw in ("\x1b", "\u202e", "\x9b"):
        assert raw not in dumped
    assert dom.one("span", "url").text() == EVIL_URL


def attribute_urls(markup: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) for every attribute that could name something to load."""
    found = []
    for node in parse(markup).iter():
        for name, value in node.attrs.items():
            if "//" in value or re.match(r"\s*[a-z][a-z0-9+.-]*:", value) and name != "content":
                found.append((node.tag, name, value))
    return found


@pytest.mark.parametrize("make", [realistic, hostile])
def test_the_page_references_nothing_outside_itself(make):
    markup = render_html(make())
    root = parse(markup)
    assert attribute_urls(markup) == []
    loaders = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
    assert not [(n.tag, a) for n in root.iter() for a in n.attrs if a in loaders]
    style = "".join(n.text() for n in root.find_all("style"))
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert root.find_all("script") == [] and len(root.find_all("style")) == 1
    assert "<script" not in markup.lower()


INJECTED = (
    '<img src="https://example.invalid/injected.png">'
    '<link rel="stylesheet" href="https://example.invalid/injected.css">'
)


def test_the_policy_stops_even_injected_markup_from_loading(workdir: Path):
    markup = render_html(realistic()).replace("<body>\n", "<body>\n" + INJECTED, 1)
    dumped, requests = load(workdir, "injected", markup)
    assert "injected.png" in dumped and requests == []
    # the control: without its policy the same page does load them, and the net log shows it
    policy = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">\n'
    assert policy in markup
    _, requests = load(workdir, "no-policy", markup.replace(policy, ""))
    assert sorted(requests) == [
        "https://example.invalid/injected.css",
        "https://example.invalid/injected.png",
    ]


def test_the_no_network_check_would_catch_a_reference():
    assert attribute_urls('<p><img src="https://x.example/a.png"></p>')
    assert attribute_urls('<svg><use href="//cdn.example/s.svg#a"></use></svg>')
    assert attribute_urls('<a href="javascript:alert(1)">x</a>')
    assert attribute_urls("<p>see https://example.com</p>") == []


# ---- translation, text summary and the small helpers (no browser) ---------------------------

DATA_FIELD_NAMES = {"what", "fields", "fields_seen"}  # field names: translated as labels


def strip_latin(value):
    """The same data with no Latin letter in any value, so any left on the page is ours."""
    if isinstance(value, str):
        return re.sub("[A-Za-z]", "", value)
    if isinstance(value, list):
        return [strip_latin(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: strip_latin(getattr(value, f.name))
            for f in dataclass_fields(value)
            if f.name not in DATA_FIELD_NAMES
        }
        return replace(value, **changes)
    return value


def test_every_fixed_string_goes_through_tr_whole():
    asked: list[str] = []

    def tr(msgid: str) -> str:
        asked.append(msgid)
        return re.sub(r"\{\w+\}|[A-Za-z]", lambda m: m[0] if m[0][0] == "{" else "ж", msgid)

    data = strip_latin(realistic())
    root = parse(render_html(data, tr=tr))
    body = root.one("body")
    shown = body.text() + root.one("head").one("title").text()
    shown += "".join(n.attrs.get("aria-label", "") for n in body.iter())
    assert re.findall("[A-Za-z]+", shown) == []
    assert re.findall("[A-Za-z]+", render_text(data, tr=tr)) == []
    assert all("{}" not in m and not re.search(r"\{\d", m) for m in asked)  # named placeholders


def test_a_broken_translation_falls_back_and_stays_text():
    english = parse(render_html(realistic(), tr=lambda s: "{missing}"))
    assert "does NOT check out" in english.one(id="verification").text()
    marked = parse(render_html(realistic(), tr=lambda s: s if "{" in s else f"<b>{s}</b>"))
    assert marked.find_all("b") == []
    assert "<b>Who can read what now</b>" in marked.one("section", id="access").text()
    broken = render_text(realistic(), tr=lambda s: "{missing}" if "{" in s else s)
    assert "{missing}" not in broken and "Retrievals: 7" in broken


def test_the_text_summary_has_the_counts_and_what_to_change():
    text = render_text(realistic())
    assert "THE AUDIT TRAIL DOES NOT CHECK OUT (problems: 2)" in text
    assert "  - log 3f2a…, seq 12: signature does not verify" in text
    assert "Retrievals: 7" in text
    assert "  佐藤 美咲: 5 (三井住友銀行 3, freee 会計 2)" in text
    assert "  鈴木 健: 2 (楽天市場 RMS 2)" in text and "  山本 花子: 0" in text
    assert text.index("楽天市場 RMS (https://") < text.index("Amazon セラーセントラル")
    assert "2FA SEED SEEN" in text
    ok = render_text(replace(realistic(), verified=True, problems=[], exposed=[]))
    assert "The audit trail checks out." in ok and "Nothing to change now." in ok


def test_the_text_summary_escapes_everything_foreign_for_a_terminal():
    text = render_text(hostile())
    bad = [ch for ch in text if ch != "\n" and unicodedata.category(ch)[0] == "C"]
    assert bad == []
    assert "銀行\\x1b[2J\\u202egnp.exe\\x9b" in text and "\\u202etrap" in text
    assert EVIL_MEMBER in text  # plain text: a terminal does not read HTML


def test_terminal_safe():
    assert terminal_safe("田中商店 月次の振込") == "田中商店 月次の振込"
    assert terminal_safe("a\x1b[31mb") == "a\\x1b[31mb"
    assert terminal_safe("\x9b2J\x07\x7f") == "\\x9b2J\\x07\\x7f"
    assert terminal_safe("\u202e\u2066\u200b\u2028\ud800\ue000") == (
        "\\u202e\\u2066\\u200b\\u2028\\ud800\\ue000"
    )
    assert terminal_safe("a\tb\nc") == "a\\tb\\nc"
    assert terminal_safe(terminal_safe("\x1b")) == "\\x1b"


def test_fmt_time():
    assert fmt_time(jst(1, 16, 7)) == "2026-12-01 16:07 (+09:00)"
    assert fmt_time(datetime(2026, 3, 5, 1, 2, tzinfo=UTC)) == "2026-03-05 01:02 (+00:00)"
    nst = timezone(-timedelta(hours=3, minutes=30))
    assert fmt_time(datetime(2026, 3, 5, 1, 2, tzinfo=nst)) == "2026-03-05 01:02 (-03:30)"
    with pytest.raises(ValueError):
        fmt_time(datetime(2026, 3, 5))


def test_per_day_counts_every_day_of_the_period():
    data = realistic()
    days = per_day(data)
    assert [d for d, _ in days] == [date(2026, 12, d) for d in range(1, 9)]
    assert sum(c for _, c in days) == len(data.retrievals)
    no_since = per_day(replace(data, since=None))
    assert no_since == days  # from the first retrieval (12-01) to the report's day
    # a day is the day in the time's own zone: 00:30 JST on 12-02 is 12-02, not UTC's 12-01
    late = RetrievalRow(jst(2, 0, 30), "x", "y", ["password"], None, None)
    assert dict(per_day(replace(data, retrievals=[late])))[date(2026, 12, 2)] == 1


def test_a_long_period_caps_the_chart_and_lists_only_busy_days():
    data = replace(realistic(), since=datetime(2020, 1, 1, tzinfo=JST))
    assert len(per_day(data)) == report.MAX_CHART_DAYS
    root = parse(render_html(data))
    assert len(root.find_all("rect", "bar")) == report.MAX_CHART_DAYS
    listed = [td for td in root.one(id="per-day").find_all("td") if "data-date" in td.attrs]
    assert len(listed) == 4  # the four days that had retrievals
    assert "Days not listed had no retrievals." in root.one(id="chart-section").text()
    old = RetrievalRow(datetime(2021, 1, 1, tzinfo=JST), "x", "y", ["password"], None, None)
    capped = parse(render_html(replace(data, retrievals=[old, *data.retrievals])))
    assert "shows the last 731 days only" in capped.one(id="chart-section").text()


def test_an_empty_vault_still_makes_a_page():
    data = replace(
        realistic(), verified=True, problems=[], access=[], retrievals=[], exposed=[], members=[]
    )
    root = parse(render_html(data))
    assert root.one(id="verification").attrs["data-verified"] == "true"
    assert root.find_all("svg") == []
    assert "No retrievals in this period." in root.one(id="chart-section").text()
    assert "Nobody can read any item now." in root.one(id="access").text()
    assert "Nothing to change now." in root.one(id="change").text()
    assert root.one(id="total-retrievals").attrs["data-count"] == "0"


def test_the_checklist_names_other_secret_fields_but_not_public_ones():
    row = ExposedRow(
        "x", None, "m", jst(1, 1), ["title", "url", "notes", "username", "暗証番号"], False,
        jst(1, 2), jst(1, 2), False,
    )  # fmt: skip
    root = parse(render_html(replace(realistic(), exposed=[row])))
    todo = [li.text() for li in root.one("ul", "todo").find_all("li")]
    assert todo == [
        "Change the password at the site, then save the new one in takusu.",
        "Check whether these need changing: notes, user name, 暗証番号.",
    ]


def test_a_report_for_one_member_lists_only_that_member():
    data = realistic()
    data = replace(
        data,
        member_filter="鈴木 健",
        retrievals=[r for r in data.retrievals if r.member == "鈴木 健"],
    )
    root = parse(render_html(data))
    assert [b.attrs["data-member"] for b in root.find_all("section", "member")] == ["鈴木 健"]
    assert "Only for member" in root.one("header").text()
    text = render_text(data)
    assert "  鈴木 健: 2" in text and "佐藤 美咲:" not in text and "山本 花子" not in text


def test_warnings_on_a_verified_trail_are_listed_in_the_green_banner():
    root = parse(render_html(replace(realistic(), verified=True, problems=["log 1: note"])))
    banner = root.one(id="verification")
    assert "ok" in banner.attrs["class"].split()
    assert [li.text() for li in banner.find_all("li")] == ["log 1: note"]


@pytest.mark.parametrize(
    ("given", "tag"),
    [("ja", "ja"), ("ja_JP.UTF-8", "ja-JP"), ("en-GB", "en-GB"), ("C", "und"), ('"><x', "und")],
)
def test_the_lang_attribute(given: str, tag: str):
    assert parse(render_html(realistic(), lang=given)).one("html").attrs["lang"] == tag
