"""The client's report: one self-contained HTML page and a short terminal summary.

The caller builds a `ReportData` from a vault (plain strings, aware datetimes); this module
only turns it into text and does no I/O. The page needs no network and no script: inline
CSS and inline SVG, and a Content-Security-Policy that forbids loading anything, so even
markup that slipped in could not fetch or run. It prints to A4.

Every value in the data is foreign text: members choose their names and write their
reasons, and a damaged trail names itself in `problems`. Each value is neutralised
(control, format and bidi characters shown as visible escapes like ``\\u202e``) and then
HTML-escaped; nothing foreign is ever put into a link or a style.

Every fixed sentence goes through `tr` (gettext-style; `vault.i18n._` unless the caller
gives another) whole, with ``{placeholders}`` filled after translation; each is marked
with `N_` for extraction where it is written. A translation whose placeholders do not
match falls back to the English.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from . import i18n
from .i18n import N_

Tr = Callable[[str], str]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class AccessRow:
    """One standing grant: `fields` None means the whole item."""

    member: str
    title: str
    fields: list[str] | None
    otp_hours: str | None
    expires: datetime | None


@dataclass(frozen=True)
class RetrievalRow:
    """One retrieval a member's takusu reported; `what` holds field names."""

    at: datetime
    member: str
    title: str
    what: list[str]
    reason: str | None
    approved_request: str | None


@dataclass(frozen=True)
class ExposedRow:
    """One item one member could read and no longer should: a line of the checklist."""

    title: str
    url: str | None
    member: str
    since: datetime
    fields_seen: list[str]
    seed_seen: bool
    first_retrieved: datetime | None
    last_retrieved: datetime | None
    deleted: bool


@dataclass(frozen=True)
class ReportData:
    vault_name: str
    owner_name: str
    generated_at: datetime
    zone_label: str
    since: datetime | None
    member_filter: str | None
    verified: bool
    problems: list[str]
    access: list[AccessRow]
    retrievals: list[RetrievalRow]  # oldest first
    exposed: list[ExposedRow]
    members: list[str]


# ---- foreign text -------------------------------------------------------------------------


def terminal_safe(text: str) -> str:
    """Text safe to print: control characters (ESC, C1), format characters (bidi overrides,
    zero-width), surrogates, private-use and unassigned code points, and line separators,
    each written as a visible escape such as ``\\x1b`` or ``\\u202e``."""
    if text.isprintable():  # the common case: no category C, no line or paragraph separator
        return text
    return "".join(
        ch
        if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029"
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _h(value: str) -> str:
    """A foreign value as HTML text or attribute content."""
    return html.escape(terminal_safe(value), quote=True)


class _Html(str):
    """Markup built in this module: `_say` puts it into a sentence unescaped."""


def _v(value: str) -> _Html:
    """A foreign value as page text, isolated (<bdi>) so right-to-left letters in it cannot
    reorder the text around it."""
    return _Html(f"<bdi>{_h(value)}</bdi>")


def _n(number: int) -> _Html:
    return _Html(str(number))


def _fill(templates: Iterable[str], values: Mapping[str, str]) -> str:
    for template in templates:
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError, AttributeError):
            continue  # a translation that does not fit its msgid: use the next one
    raise ValueError("no usable message template")


def _say(tr: Tr, msgid: str, **values: str) -> _Html:
    """A translated sentence as HTML: the translation escaped, then each value put in
    (escaped and isolated, unless it is markup built here)."""
    filled = {k: v if isinstance(v, _Html) else _v(v) for k, v in values.items()}
    templates = (html.escape(t, quote=True) for t in (tr(msgid), msgid))
    return _Html(_fill(templates, filled))


def _line(tr: Tr, msgid: str, **values: str) -> str:
    """A translated sentence for the terminal, each value escaped for it."""
    filled = {k: terminal_safe(v) for k, v in values.items()}
    return _fill((terminal_safe(tr(msgid)), msgid), filled)


def fmt_time(dt: datetime) -> str:
    """A time in the zone it comes in: ``2026-12-01 16:07 (+09:00)``."""
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError("fmt_time needs an aware datetime")
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{dt:%Y-%m-%d %H:%M} ({sign}{hours:02d}:{minutes:02d})"


def _time(dt: datetime) -> _Html:
    """A time for the page: shown as `fmt_time` gives it, never broken across lines."""
    return _Html(f'<time datetime="{_h(dt.isoformat())}">{_h(fmt_time(dt))}</time>')


def _lang_tag(lang: str) -> str:
    """A BCP 47 tag for <html lang>: 'ja_JP.UTF-8' becomes 'ja-JP'; anything else 'und'."""
    tag = lang.split(".")[0].split("@")[0].replace("_", "-")
    return tag if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", tag) else "und"


# ---- field names ----------------------------------------------------------------------------

_FIELD_LABELS = {
    "password": N_("password"),
    "username": N_("user name"),
    "url": N_("web address"),
    "notes": N_("notes"),
    "title": N_("title"),
    "tags": N_("tags"),
    "totp-code": N_("2FA code"),
    "totp-seed": N_("2FA seed"),
    "totp": N_("2FA seed"),  # what an item stores as "totp" is the seed
}
SEED_FIELDS = frozenset({"totp-seed", "totp"})


def _field_label(tr: Tr, name: str) -> str:
    """A field as the client calls it; an unknown (custom) field keeps its own name."""
    return tr(_FIELD_LABELS[name]) if name in _FIELD_LABELS else name


def _fields_text(tr: Tr, names: Iterable[str]) -> str:
    # translators: the separator between items of a list (Japanese: "、")
    return tr(N_(", ")).join(_field_label(tr, n) for n in names)


def _member_order(data: ReportData) -> list[str]:
    """The vault's members, then anyone else the retrievals name (e.g. a removed member);
    only the one member when the report is for one."""
    order = list(dict.fromkeys(data.members))
    order += [m for m in dict.fromkeys(r.member for r in data.retrievals) if m not in order]
    if data.member_filter is not None:
        return [m for m in order if m == data.member_filter] or [data.member_filter]
    return order


def _by_title(rows: Iterable[RetrievalRow]) -> dict[str, list[RetrievalRow]]:
    """Retrievals grouped by item title, in the order each item first appears."""
    groups: dict[str, list[RetrievalRow]] = {}
    for row in rows:
        groups.setdefault(row.title, []).append(row)
    return groups


def _seed(row: ExposedRow) -> bool:
    """True if the member saw the item's 2FA seed (either way the data says so)."""
    return row.seed_seen or not SEED_FIELDS.isdisjoint(row.fields_seen)


def _urgency(row: ExposedRow) -> tuple[int, str]:
    """Seed seen first, then items something was retrieved from, then the rest."""
    return (0 if _seed(row) else 1 if row.fields_seen else 2, row.title.casefold())


# ---- the page -------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1.5rem; color: #111; background: #fff;
  font: 15px/1.55 system-ui, "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic UI",
  "Yu Gothic", Meiryo, "Noto Sans CJK JP", "Noto Sans JP", sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .2rem;
  border-bottom: 2px solid #ccc; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
dl.meta dt, .muted { color: #555; }
dd { margin: 0; }
time { white-space: nowrap; }
.banner { border: 3px solid; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.banner h2 { margin: 0 0 .3rem; border: 0; font-size: 1.3rem; }
.banner.ok { border-color: #1e7b34; background: #e8f5ec; color: #0b3d18; }
.banner.bad { border-color: #b3261e; background: #fdecea; color: #5c0b07; }
.keys { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .5rem;
  list-style: none; padding: 0; }
.keys li { border: 1px solid #ccc; border-radius: 6px; padding: .3rem .7rem; font-size: .9em; }
.keys .n { display: block; font-size: 1.5rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem;
  border-bottom: 1px solid #ddd; }
td, .item-head th, .exposed dd { overflow-wrap: anywhere; }
table.retrievals { table-layout: fixed; }
table.retrievals th:nth-child(1) { width: 14.5rem; }
table.retrievals th:nth-child(2) { width: 28%; }
table.retrievals th:nth-child(4) { width: 16%; }
thead th { border-bottom: 2px solid #999; font-size: .9em; color: #333; }
thead { display: table-header-group; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.item-head th { background: #f1f1f1; }
tr.ended td { color: #555; }
.badge { display: inline-block; font-size: .8em; padding: 0 .4em; margin-left: .4em;
  border: 1px solid; border-radius: 4px; font-weight: 600; vertical-align: middle; }
.badge.seed, strong.seed { color: #fff; background: #b3261e; border-color: #b3261e; }
strong.seed { padding: 0 .3em; border-radius: 3px; }
.exposed { border: 1px solid #ccc; border-left: 6px solid #c77700; border-radius: 4px;
  padding: .6rem .9rem; margin: .8rem 0; }
.exposed.seed { border-left-color: #b3261e; }
.exposed dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 1rem; }
.exposed dt { color: #555; }
.todo { list-style: none; padding-left: 0; }
.todo li::before { content: "\\2610\\00a0"; }
.warn { color: #5c0b07; font-weight: 600; }
.chart svg { display: block; width: 100%; height: auto; max-height: 18rem; }
.chart .bar { fill: #2f5fa8; }
.chart .grid { stroke: #ddd; }
.chart .axis { stroke: #333; }
.chart text { font-size: 11px; fill: #222; }
.day-tables { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
.day-tables table { width: auto; font-size: .9em; }
tr, .exposed, .banner, .keys, .chart svg { break-inside: avoid; page-break-inside: avoid; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
@media screen and (max-width: 40rem) {
  body { padding: .8rem; font-size: 14px; }
  time { white-space: normal; }
  table.retrievals { table-layout: auto; }
  table.retrievals th:nth-child(n) { width: auto; }
}
@page { size: A4; margin: 15mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 9pt; color: #555; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { margin-top: 1.2rem; }
}
"""


def render_html(data: ReportData, tr: Tr | None = None, lang: str | None = None) -> str:
    """The report as one self-contained HTML document (no network, no script, A4 print),
    in the language in use (`vault.i18n`) unless `tr` and `lang` say otherwise."""
    tr = i18n._ if tr is None else tr
    lang = i18n.current() if lang is None else lang
    sections = (
        _header,
        _verification,
        _key_numbers,
        _access_section,
        _chart_section,
        _members_section,
        _exposed_section,
        _note_section,
    )
    body = "\n".join(section(data, tr) for section in sections)
    # <title> holds text only (no <bdi>): the name goes in escaped
    title = _say(tr, N_("Access report: {vault}"), vault=_Html(_h(data.vault_name)))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_h(_lang_tag(lang))}" dir="ltr">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_h(CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="color-scheme" content="light">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def _period(data: ReportData, tr: Tr) -> _Html:
    end = _time(data.generated_at)
    if data.since is None:
        return _say(tr, N_("everything recorded, up to {end}"), end=end)
    return _say(tr, N_("{start} to {end}"), start=_time(data.since), end=end)


def _header(data: ReportData, tr: Tr) -> str:
    rows = [
        (_say(tr, N_("Owner")), _v(data.owner_name)),
        (_say(tr, N_("Made on")), _time(data.generated_at)),
        (_say(tr, N_("Times are shown in")), _v(data.zone_label)),
        (_say(tr, N_("Period")), _period(data, tr)),
    ]
    if data.member_filter is not None:
        rows.append((_say(tr, N_("Only for member")), _v(data.member_filter)))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    heading = _say(tr, N_("Access report: {vault}"), vault=data.vault_name)
    return f'<header>\n<h1>{heading}</h1>\n<dl class="meta">{items}</dl>\n</header>'


def _problem_list(problems: list[str]) -> str:
    items = "".join(f'<li class="problem">{_v(p)}</li>' for p in problems)
    return f'<ol class="problems">{items}</ol>'


def _verification(data: ReportData, tr: Tr) -> str:
    if data.verified:
        parts = [
            f"<h2>&#x2714; {_say(tr, N_('The audit trail checks out'))}</h2>",
            "<p>"
            + _say(tr, N_("Every record in it is intact and signed by the person it names."))
            + "</p>",
        ]
        if data.problems:
            parts += [f"<p>{_say(tr, N_('Notes:'))}</p>", _problem_list(data.problems)]
        attrs = 'class="banner ok" data-verified="true" role="status"'
    else:
        parts = [
            f"<h2>&#x2718; {_say(tr, N_('The audit trail does NOT check out'))}</h2>",
            "<p>"
            + _say(
                tr,
                N_(
                    "Something in it was changed, removed or damaged. Do not rely on the rest "
                    "of this report until this is explained."
                ),
            )
            + "</p>",
            f"<p>{_say(tr, N_('Where it fails:'))}</p>",
            _problem_list(data.problems or [tr(N_("No details were given."))]),
        ]
        attrs = 'class="banner bad" data-verified="false" role="alert"'
    body = "\n".join(parts)
    count = len(data.problems)
    return f'<section id="verification" {attrs} data-problems="{count}">\n{body}\n</section>'


def _key_numbers(data: ReportData, tr: Tr) -> str:
    readers = {r.member for r in data.retrievals}
    numbers = [
        ("total-retrievals", len(data.retrievals), _say(tr, N_("retrievals in this period"))),
        ("members-retrieving", len(readers), _say(tr, N_("members who retrieved something"))),
        ("exposed-count", len(data.exposed), _say(tr, N_("things to change"))),
        ("seeds-seen", sum(_seed(e) for e in data.exposed), _say(tr, N_("2FA seeds seen"))),
    ]
    items = "".join(
        f'<li><span class="n" id="{key}" data-count="{n}">{n}</span>{label}</li>'
        for key, n, label in numbers
    )
    return f'<ul class="keys" aria-label="{_say(tr, N_("Key numbers"))}">{items}</ul>'


def _table(head: list[_Html], body: str, cls: str, num_cols: Iterable[int] = ()) -> str:
    numeric = set(num_cols)
    cells = "".join(
        f'<th scope="col" class="num">{h}</th>' if i in numeric else f'<th scope="col">{h}</th>'
        for i, h in enumerate(head)
    )
    return f'<table class="{cls}">\n<thead><tr>{cells}</tr></thead>\n{body}\n</table>'


def _until(row: AccessRow, now: datetime, tr: Tr) -> tuple[bool, _Html]:
    if row.expires is None:
        return False, _say(tr, N_("no end date"))
    if row.expires <= now:
        return True, _say(tr, N_("ended {time}"), time=_time(row.expires))
    return False, _time(row.expires)


def _access_row(row: AccessRow, now: datetime, tr: Tr) -> str:
    ended, until = _until(row, now, tr)
    fields = _say(tr, N_("everything")) if row.fields is None else _what(tr, row.fields)
    hours = _v(row.otp_hours) if row.otp_hours is not None else "&#x2014;"
    return (
        f'<tr class="grant{" ended" if ended else ""}" data-ended="{str(ended).lower()}">'
        f"<td>{_v(row.member)}</td><td>{_v(row.title)}</td><td>{fields}</td>"
        f"<td>{hours}</td><td>{until}</td></tr>"
    )


def _access_section(data: ReportData, tr: Tr) -> str:
    heading = f"<h2>{_say(tr, N_('Who can read what now'))}</h2>"
    if not data.access:
        body = f"<p>{_say(tr, N_('Nobody can read any item now.'))}</p>"
        return f'<section id="access">\n{heading}\n{body}\n</section>'
    head = [
        _say(tr, N_("Member")),
        _say(tr, N_("Item")),
        _say(tr, N_("Can read")),
        _say(tr, N_("2FA code hours")),
        _say(tr, N_("Until")),
    ]
    rows = [_access_row(r, data.generated_at, tr) for r in data.access]
    parts = [heading, _table(head, "<tbody>" + "\n".join(rows) + "</tbody>", "access")]
    if any(r.expires is not None and r.expires <= data.generated_at for r in data.access):
        note = _say(
            tr,
            N_(
                "Ended: the end date has passed. Your takusu takes this access back the next "
                "time you open the vault."
            ),
        )
        parts.append(f'<p class="muted">{note}</p>')
    return '<section id="access">\n' + "\n".join(parts) + "\n</section>"


# ---- the chart of retrievals per day --------------------------------------------------------

MAX_CHART_DAYS = 731  # two years of bars; the tables below still list every retrieval
FULL_DAY_TABLE = 31  # longer periods list only the days that had retrievals


def per_day(data: ReportData) -> list[tuple[date, int]]:
    """Retrievals per calendar day (in each time's own zone), every day of the period from
    `since` (or the first retrieval) to the report's day, zero days included."""
    counts = Counter(r.at.date() for r in data.retrievals)
    days = [data.generated_at.date(), *counts]
    if data.since is not None:
        days.append(data.since.date())
    start, end = min(days), max(days)
    start = max(start, end - timedelta(days=MAX_CHART_DAYS - 1))
    span = (end - start).days + 1
    return [(d, counts[d]) for d in (start + timedelta(days=i) for i in range(span))]


def _nice_step(top: int) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving at most five steps to `top`."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if math.ceil(top / step) <= 5:
                return step
        magnitude *= 10


_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 700, 240, 44, 10, 12, 44


def _y_axis(top: int, step: int, tr: Tr) -> list[str]:
    plot_h = _H - _TOP - _BOTTOM
    out = []
    for value in range(0, top + 1, step):
        y = _TOP + plot_h - plot_h * value / top
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    label = _say(tr, N_("Retrievals"))
    out.append(
        f'<text x="12" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">{label}</text>'
    )
    return out


def _bars(days: list[tuple[date, int]], top: int, tr: Tr) -> list[str]:
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / len(days)
    width = max(slot * 0.7, 0.5)
    label_every = math.ceil(len(days) / 10)
    out = []
    for i, (day, count) in enumerate(days):
        x = _LEFT + i * slot + (slot - width) / 2
        height = plot_h * count / top
        tip = _say(tr, N_("Retrievals on {day}: {count}"), day=_Html(f"{day}"), count=_n(count))
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{_TOP + plot_h - height:.1f}" width="{width:.1f}"'
            f' height="{height:.1f}" data-date="{day.isoformat()}" data-count="{count}">'
            f"<title>{tip}</title></rect>"
        )
        if i % label_every == 0:
            out.append(
                f'<text x="{x + width / 2:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle">'
                f"{day:%m-%d}</text>"
            )
    return out


def _svg_chart(days: list[tuple[date, int]], tr: Tr) -> str:
    step = _nice_step(max(1, max(c for _, c in days)))
    top = step * math.ceil(max(1, max(c for _, c in days)) / step)
    base = _H - _BOTTOM
    summary = _say(
        tr,
        N_("Retrievals per day from {start} to {end}: {total} in all."),
        start=_Html(f"{days[0][0]}"),
        end=_Html(f"{days[-1][0]}"),
        total=_n(sum(c for _, c in days)),
    )
    parts = [
        f'<svg id="chart" viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{summary}</title>',
        *_y_axis(top, step, tr),
        *_bars(days, top, tr),
        f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base}" y2="{base}"/>',
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{base}"/>',
        f'<text x="{(_LEFT + _W - _RIGHT) / 2:.1f}" y="{_H - 8}" text-anchor="middle">'
        f"{_say(tr, N_('Day (month-day)'))}</text>",
        "</svg>",
    ]
    return "\n".join(parts)


def _day_tables(days: list[tuple[date, int]], tr: Tr) -> str:
    """The chart's numbers as small tables of up to ten days each, side by side."""
    listed = days if len(days) <= FULL_DAY_TABLE else [(d, c) for d, c in days if c]
    head = [_say(tr, N_("Day")), _say(tr, N_("Retrievals"))]
    tables = []
    for i in range(0, len(listed), 10):
        rows = "".join(
            f'<tr><td data-date="{d.isoformat()}">{d.isoformat()}</td>'
            f'<td class="num" data-count="{c}">{c}</td></tr>'
            for d, c in listed[i : i + 10]
        )
        tables.append(_table(head, f"<tbody>{rows}</tbody>", "per-day", num_cols=[1]))
    note = ""
    if len(listed) < len(days):
        note = f'<p class="muted">{_say(tr, N_("Days not listed had no retrievals."))}</p>'
    return f'<div class="day-tables" id="per-day">{"".join(tables)}</div>{note}'


def _chart_section(data: ReportData, tr: Tr) -> str:
    heading = f"<h2>{_say(tr, N_('Retrievals per day'))}</h2>"
    if not data.retrievals:
        body = f"<p>{_say(tr, N_('No retrievals in this period.'))}</p>"
        return f'<section id="chart-section" class="chart">\n{heading}\n{body}\n</section>'
    days = per_day(data)
    parts = [heading, _svg_chart(days, tr)]
    if len(days) == MAX_CHART_DAYS and days[0][0] > min(r.at.date() for r in data.retrievals):
        note = _say(tr, N_("The chart shows the last {count} days only."), count=_n(len(days)))
        parts.append(f'<p class="muted">{note}</p>')
    parts.append(_day_tables(days, tr))
    return '<section id="chart-section" class="chart">\n' + "\n".join(parts) + "\n</section>"


# ---- each member's retrievals ---------------------------------------------------------------


def _what(tr: Tr, names: list[str]) -> _Html:
    """Field names as the client calls them, each isolated; a 2FA seed stands out."""
    parts = [
        f'<strong class="seed">{_v(_field_label(tr, n))}</strong>'
        if n in SEED_FIELDS
        else _v(_field_label(tr, n))
        for n in names
    ]
    return _Html(html.escape(tr(N_(", ")), quote=True).join(parts))


def _retrieval_row(row: RetrievalRow, tr: Tr) -> str:
    reason = (
        _v(row.reason)
        if row.reason is not None
        else f'<span class="muted">{_say(tr, N_("(no reason given)"))}</span>'
    )
    request = _v(row.approved_request) if row.approved_request is not None else "&#x2014;"
    seed = " seed" if SEED_FIELDS.intersection(row.what) else ""
    return (
        f'<tr class="retrieval{seed}"><td>{_time(row.at)}</td>'
        f"<td>{_what(tr, row.what)}</td><td>{reason}</td><td>{request}</td></tr>"
    )


def _item_group(title: str, rows: list[RetrievalRow], tr: Tr) -> str:
    head = _say(tr, N_("{item} (retrievals: {count})"), item=title, count=_n(len(rows)))
    body = "\n".join(_retrieval_row(r, tr) for r in rows)
    return (
        f'<tbody class="item" data-title="{_h(title)}" data-count="{len(rows)}">\n'
        f'<tr class="item-head"><th colspan="4" scope="rowgroup">{head}</th></tr>\n'
        f"{body}\n</tbody>"
    )


def _member_block(member: str, rows: list[RetrievalRow], tr: Tr) -> str:
    heading = _say(tr, N_("{member} (retrievals: {count})"), member=member, count=_n(len(rows)))
    opening = f'<section class="member" data-member="{_h(member)}" data-count="{len(rows)}">'
    if not rows:
        body = f"<p>{_say(tr, N_('No retrievals in this period.'))}</p>"
    else:
        head = [
            _say(tr, N_("Time")),
            _say(tr, N_("What")),
            _say(tr, N_("Reason")),
            _say(tr, N_("Request")),
        ]
        groups = "\n".join(_item_group(t, g, tr) for t, g in _by_title(rows).items())
        body = _table(head, groups, "retrievals")
    return f"{opening}\n<h3>{heading}</h3>\n{body}\n</section>"


def _members_section(data: ReportData, tr: Tr) -> str:
    heading = f"<h2>{_say(tr, N_('What each member retrieved'))}</h2>"
    intro = _say(
        tr,
        N_(
            "Every retrieval in the period, by member and item, with the reason the member gave "
            "and the request it answered, if any."
        ),
    )
    blocks = [
        _member_block(m, [r for r in data.retrievals if r.member == m], tr)
        for m in _member_order(data)
    ]
    if not blocks:
        blocks = [f"<p>{_say(tr, N_('This vault has no members.'))}</p>"]
    return (
        '<section id="by-member">\n'
        + "\n".join([heading, f"<p>{intro}</p>", *blocks])
        + ("\n</section>")
    )


# ---- what to change now ---------------------------------------------------------------------


# fields the checklist covers by itself, or that are no secret (a 2FA code expires alone)
_HANDLED_OR_PUBLIC = SEED_FIELDS | {"password", "totp-code", "title", "url", "tags"}


def _todo(row: ExposedRow, tr: Tr) -> list[_Html]:
    """The checklist for one exposed item, most important first."""
    todo = []
    if _seed(row):
        todo.append(
            _say(
                tr,
                N_(
                    "Reset the 2FA at the site (set it up again with a new authenticator), then "
                    "save the new 2FA seed in takusu."
                ),
            )
        )
    # whatever was retrieved, they could read the whole item: a new password in any case
    todo.append(_say(tr, N_("Change the password at the site, then save the new one in takusu.")))
    others = [f for f in row.fields_seen if f not in _HANDLED_OR_PUBLIC]
    if others:
        todo.append(
            _say(tr, N_("Check whether these need changing: {fields}."), fields=_what(tr, others))
        )
    return todo


def _exposed_facts(row: ExposedRow, tr: Tr) -> str:
    def when(dt: datetime | None) -> str:
        return _time(dt) if dt is not None else _say(tr, N_("none recorded"))

    seen = _what(tr, row.fields_seen) if row.fields_seen else _say(tr, N_("none recorded"))
    facts = [
        (_say(tr, N_("Could be read by")), _v(row.member)),
        (_say(tr, N_("Needs changing since")), _time(row.since)),
        (_say(tr, N_("What was retrieved")), seen),
        (_say(tr, N_("First retrieval")), when(row.first_retrieved)),
        (_say(tr, N_("Latest retrieval")), when(row.last_retrieved)),
    ]
    if row.url is not None:
        facts.insert(0, (_say(tr, N_("Web address")), f'<span class="url">{_v(row.url)}</span>'))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _exposed_notes(row: ExposedRow, tr: Tr) -> list[str]:
    notes = []
    if _seed(row):
        text = _say(
            tr,
            N_(
                "The 2FA seed was seen: {member} can make valid 2FA codes for this account at "
                "any time, until the 2FA is reset at the site."
            ),
            member=row.member,
        )
        notes.append(f'<p class="warn">{text}</p>')
    if not row.fields_seen:
        text = _say(
            tr,
            N_(
                "No retrieval was recorded, but {member} could read this item and may have "
                "done so without a record."
            ),
            member=row.member,
        )
        notes.append(f'<p class="muted">{text}</p>')
    if row.deleted:
        text = _say(tr, N_("The item was deleted from takusu, but what was seen is still known."))
        notes.append(f'<p class="muted">{text}</p>')
    return notes


def _exposed_card(row: ExposedRow, tr: Tr) -> str:
    badges = ""
    if _seed(row):
        badges += f'<span class="badge seed">{_say(tr, N_("2FA seed seen"))}</span>'
    if row.deleted:
        badges += f'<span class="badge deleted">{_say(tr, N_("deleted from takusu"))}</span>'
    todo = "".join(f"<li>{t}</li>" for t in _todo(row, tr))
    cls = "exposed seed" if _seed(row) else "exposed"
    attrs = (
        f'class="{cls}" data-title="{_h(row.title)}" data-member="{_h(row.member)}" '
        f'data-seed-seen="{str(_seed(row)).lower()}" data-deleted="{str(row.deleted).lower()}"'
    )
    parts = [
        f"<h3>{_v(row.title)}{badges}</h3>",
        _exposed_facts(row, tr),
        *_exposed_notes(row, tr),
        f'<ul class="todo">{todo}</ul>',
    ]
    return f"<article {attrs}>\n" + "\n".join(parts) + "\n</article>"


def _exposed_section(data: ReportData, tr: Tr) -> str:
    heading = f"<h2>{_say(tr, N_('What to change now'))}</h2>"
    if not data.exposed:
        body = f"<p>{_say(tr, N_('Nothing to change now.'))}</p>"
        return f'<section id="change">\n{heading}\n{body}\n</section>'
    intro = _say(
        tr,
        N_(
            "Someone could read these items and no longer should. Nothing can make them forget "
            "what they saw, so change these secrets at the site, then save the new ones in takusu. "
            "Most urgent first."
        ),
    )
    cards = [_exposed_card(r, tr) for r in sorted(data.exposed, key=_urgency)]
    return (
        '<section id="change">\n'
        + "\n".join([heading, f"<p>{intro}</p>", *cards])
        + ("\n</section>")
    )


def _note_section(data: ReportData, tr: Tr) -> str:
    notes = [
        _say(
            tr,
            N_(
                "Retrieval records are reported by each member's own takusu. An unmodified takusu "
                "records every retrieval; a modified one could read without a record. This report "
                "shows what was reported."
            ),
        ),
        _say(
            tr,
            N_(
                "What was already seen cannot be unseen. Ending someone's access stops them "
                "reading again, but they may have kept what they saw: that is why this report "
                "lists what to change."
            ),
        ),
        _say(
            tr,
            N_(
                "2FA codes already delivered stay valid until they expire, usually within a few "
                "minutes."
            ),
        ),
    ]
    items = "".join(f"<li>{n}</li>" for n in notes)
    heading = _say(tr, N_("Good to know"))
    return f'<section id="note">\n<h2>{heading}</h2>\n<ul>{items}</ul>\n</section>'


# ---- the terminal summary -------------------------------------------------------------------


def _text_verification(data: ReportData, tr: Tr) -> list[str]:
    if data.verified:
        lines = [tr(N_("The audit trail checks out."))]
        lines += ["  " + _line(tr, N_("Note: {problem}"), problem=p) for p in data.problems]
        return lines
    lines = [
        _line(
            tr,
            N_(
                "THE AUDIT TRAIL DOES NOT CHECK OUT (problems: {count}); do not rely on this "
                "report until this is explained:"
            ),
            count=str(len(data.problems)),
        )
    ]
    lines += ["  - " + terminal_safe(p) for p in data.problems]
    return lines


def _text_members(data: ReportData, tr: Tr) -> list[str]:
    lines = [_line(tr, N_("Retrievals: {count}"), count=str(len(data.retrievals)))]
    for member in _member_order(data):
        groups = _by_title(r for r in data.retrievals if r.member == member)
        items = tr(N_(", ")).join(
            _line(tr, N_("{item} {count}"), item=t, count=str(len(g))) for t, g in groups.items()
        )
        total = str(sum(len(g) for g in groups.values()))
        if groups:
            lines.append(
                "  "
                + _line(
                    tr, N_("{member}: {count} ({items})"), member=member, count=total, items=items
                )
            )
        else:
            lines.append("  " + _line(tr, N_("{member}: 0"), member=member))
    return lines


def _text_exposed(data: ReportData, tr: Tr) -> list[str]:
    if not data.exposed:
        return [tr(N_("Nothing to change now."))]
    lines = [_line(tr, N_("Change now (most urgent first): {count}"), count=str(len(data.exposed)))]
    for row in sorted(data.exposed, key=_urgency):
        seen = _fields_text(tr, row.fields_seen) if row.fields_seen else tr(N_("none recorded"))
        facts = {"item": row.title, "member": row.member, "seen": seen}
        if row.url is None:
            line = _line(tr, N_("{item}: {member} could read it; retrieved: {seen}"), **facts)
        else:
            line = _line(
                tr,
                N_("{item} ({url}): {member} could read it; retrieved: {seen}"),
                url=row.url,
                **facts,
            )
        lines.append("  - " + line)
        if _seed(row):
            lines.append("    " + tr(N_("2FA SEED SEEN: reset the 2FA at the site.")))
    return lines


def render_text(data: ReportData, tr: Tr | None = None) -> str:
    """A short terminal summary: verification, retrievals per member, what to change (in
    the language in use unless `tr` says otherwise)."""
    tr = i18n._ if tr is None else tr
    head = _line(
        tr,
        N_("Access report: {vault} (owner {owner}), made {time}"),
        vault=data.vault_name,
        owner=data.owner_name,
        time=fmt_time(data.generated_at),
    )
    period = (
        _line(tr, N_("Period: since {start}"), start=fmt_time(data.since))
        if data.since is not None
        else tr(N_("Period: everything recorded"))
    )
    lines = [head, period]
    if data.member_filter is not None:
        lines.append(_line(tr, N_("Only for member: {member}"), member=data.member_filter))
    lines += _text_verification(data, tr)
    lines += _text_members(data, tr)
    lines += _text_exposed(data, tr)
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
