"""Moving in and out of a vault: import records another tool exported, export what another
tool opens. The readers and writers are in `transfer/`; this module decides, for each
record, what happens to the vault (add, update, skip, refuse) and records it in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import i18n
from .errors import BadInput, TakusuError, UsageError
from .i18n import N_, _
from .item import Payload, validate
from .session import Session
from .transfer.record import ReadResult, Record

# How the audit and the summary name a source format (in English: translate with
# `format_name`, or `i18n._` where it is shown).
FORMAT_NAMES = {
    "csv": N_("a spreadsheet"),
    "chrome": N_("a Chrome or Edge export"),
    "firefox": N_("a Firefox export"),
    "safari": N_("a Safari export"),
    "bitwarden-json": N_("a Bitwarden export"),
    "bitwarden-csv": N_("a Bitwarden export"),
    "1pux": N_("a 1Password export"),
    "1password-csv": N_("a 1Password export"),
    "keepassxc-csv": N_("a KeePassXC export"),
    "keepass-xml": N_("a KeePass export"),
    "kdbx": N_("a KeePass database"),
    "pass": N_("a pass store"),
}
ON_DUPLICATE = ("skip", "update", "add")


def format_name(fmt: str) -> str:
    """A source format as a person calls it ("a spreadsheet"), in the language in use; an
    unknown one as it is written."""
    return i18n._(FORMAT_NAMES[fmt]) if fmt in FORMAT_NAMES else fmt


@dataclass
class Action:
    """What happens to one record: "add", "update", "skip" or "refuse", and why."""

    record: Record
    what: str
    why: str = ""
    item_id: str | None = None  # the item it updates or matched
    payload: Payload | None = None  # what will be written


@dataclass
class Plan:
    """Every record of a source, with its action; rows the reader refused or skipped."""

    format: str
    actions: list[Action] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (place, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    compared: bool = False  # checked against the vault's items (needs it unlocked)

    def count(self, what: str) -> int:
        return sum(a.what == what for a in self.actions)


def _key(title: str, username: str | None, url: str | None) -> tuple[str, str, str]:
    return (title.casefold(), (username or "").casefold(), (url or "").casefold())


def plan(
    result: ReadResult,
    on_duplicate: str,
    tags: list[str],
    existing: dict[str, dict[str, object]] | None,
    current: Callable[[str], Payload] | None = None,
) -> Plan:
    """Decide each record: refuse what the vault would refuse (checked as a write would),
    match the rest by title + username + URL against `existing` summaries (None: the vault
    is not unlocked, so nothing is compared) and against earlier rows of the file. An
    update whose fields equal the item's (`current` reads it) is skipped as unchanged."""
    if on_duplicate not in ON_DUPLICATE:
        raise UsageError(
            _("--on-duplicate takes {choices}").format(choices=", ".join(ON_DUPLICATE))
        )
    out = Plan(result.format, compared=existing is not None)
    out.refused = [(r.place, r.reason) for r in result.refused]
    out.skipped = [(r.place, r.reason) for r in result.skipped]
    out.notices = list(result.notices)
    known: dict[tuple[str, str, str], str] = {}
    titles: set[str] = set()
    for item_id, s in (existing or {}).items():
        known[_key(str(s.get("title")), _str(s.get("username")), _str(s.get("url")))] = item_id
        titles.add(str(s.get("title")).casefold())
    seen: set[tuple[str, str, str]] = set()
    for record in result.records:
        action = _decide(record, on_duplicate, tags, known, titles, seen)
        if action.what == "update" and current is not None and action.item_id is not None:
            if _same(current(action.item_id), action.payload):
                action = Action(record, "skip", _("unchanged"), action.item_id)
        out.actions.append(action)
    return out


def _same(item: Payload, payload: Payload | None) -> bool:
    return payload is not None and all(item.get(k) == v for k, v in payload.items())


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _decide(
    record: Record,
    on_duplicate: str,
    tags: list[str],
    known: dict[tuple[str, str, str], str],
    titles: set[str],
    seen: set[tuple[str, str, str]],
) -> Action:
    payload = record.payload()
    payload["tags"] = sorted(set(payload["tags"]) | set(tags))
    try:
        payload = validate(payload)
    except TakusuError as exc:
        return Action(record, "refuse", exc.message)
    key = _key(payload["title"], payload["username"], payload["url"])
    if key in seen:
        return Action(record, "skip", _("the same login appears earlier in the file"))
    seen.add(key)
    match = known.get(key)
    if match is not None and on_duplicate == "skip":
        why = _("already in the vault: same title, user and URL")
        return Action(record, "skip", why, match)
    if match is not None and on_duplicate == "update":
        why = _("replaces the item with the same title, user and URL")
        return Action(record, "update", why, match, payload)
    title = payload["title"]
    if title.casefold() in titles:
        payload["title"] = _free_title(title, titles)
    titles.add(payload["title"].casefold())
    why = ""
    if payload["title"] != title:
        why = _("added as {title}").format(title=repr(payload["title"]))
    return Action(record, "add", why, None, payload)


def _free_title(title: str, taken: set[str]) -> str:
    for n in range(2, 1000):
        candidate = f"{title} ({n})"
        if candidate.casefold() not in taken:
            return candidate
    raise BadInput(_("too many items titled {title}").format(title=repr(title)))


def apply(
    session: Session,
    import_plan: Plan,
    progress: Callable[[int], None] = lambda done: None,
) -> Plan:
    """Write the plan: every added or updated item, and one `import` event naming the
    source and the counts, all in one write (nothing is half-imported). A plan that adds
    and updates nothing writes nothing."""
    session.require_owner()
    if not import_plan.count("add") + import_plan.count("update"):
        return import_plan
    with session.batch():
        for n, action in enumerate(import_plan.actions, start=1):
            if action.payload is not None and action.what in ("add", "update"):
                action.item_id = session.put(action.item_id, action.payload)
            progress(n)
        session.append(
            "import",
            {
                "format": import_plan.format,
                "added": import_plan.count("add"),
                "updated": import_plan.count("update"),
                "skipped": import_plan.count("skip") + len(import_plan.skipped),
                "refused": import_plan.count("refuse") + len(import_plan.refused),
            },
        )
    return import_plan


def export_items(session: Session) -> list[Payload]:
    """Every active item's fields, for an export (owner only)."""
    session.require_owner()
    items = [session.payload(item_id) for item_id in session.readable()]
    return sorted(items, key=lambda p: p["title"].casefold())


def record_export(session: Session, path: Path, fmt: str, count: int) -> None:
    """An `export` event: what left the vault, and in which form (never the file's path)."""
    session.append("export", {"format": fmt, "items": count})
