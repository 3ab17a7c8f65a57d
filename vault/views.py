"""What the list-like commands show, as plain rows: the CLI only formats them.

Each function takes an opened Session and returns JSON-able data; nothing here prints.
The words in the rows ("all of it", "(hidden)") are English, as `--json` gives them;
with `shown=True` they are in the reader's language, for rows printed as text.
"""

from __future__ import annotations

from typing import Any

from .codewindow import Hours
from .i18n import _
from .identity import Card
from .session import Session
from .sharing import items_granted_to
from .state import Grant, Item


def _names(sess: Session) -> dict[str, str]:
    return {m: v["name"] for m, v in sess.state["members"].items()}


def item_rows(
    sess: Session, *, shown: bool = False, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Readable items, by title: the owner sees users, URLs, grants and exposure; a member
    sees only titles and when their access ends (no field is revealed without a receipt).
    `only`: just these (readable) ids, in this order."""
    summaries = sess.summaries()
    order = sess.in_order() if only is None else only
    items, me = sess.state["items"], sess.me.id
    if not sess.is_owner:
        rows = []
        for item_id in order:
            p, item = summaries[item_id], items[item_id]
            grant = item["grants"][me]
            rows.append(
                {
                    "id": item_id,
                    "title": p["title"],
                    "version": item["version"],
                    "expires": grant.get("expires"),
                    "scope": scope_words(grant, shown=shown),
                }
            )
        return rows
    names = _names(sess)
    # one dict display per row, and no sort of the (nearly always empty) name lists: a
    # list of 10,000 items builds 10,000 rows (this loop was half of `list`'s time)
    return [
        {
            "id": item_id,
            "title": (p := summaries[item_id])["title"],
            "version": (item := items[item_id])["version"],
            "username": p.get("username"),
            "url": p.get("url"),
            "tags": p.get("tags"),
            "shared_with": sorted([names[m] for m in grants]) if (grants := item["grants"]) else [],
            # whoever may know the password or the 2FA seed: both stay until rotated
            "exposed_to": _exposed_to(item, names),
        }
        for item_id in order
    ]


def _exposed_to(item: Item, names: dict[str, str]) -> list[str]:
    exposed, seed = item["exposed"], item.get("seed_exposed")
    if not (exposed or seed):
        return []
    ids = exposed.keys() | seed.keys() if seed else exposed.keys()
    return sorted({names.get(m, m[:8]) for m in ids})


def scope_words(grant: Grant, *, shown: bool = False) -> str:
    """What a grant covers, in plain words: "all of it", or the fields and 2FA codes (in
    English unless `shown`; field names and hours stay as they are written)."""
    scope = grant.get("scope")
    if scope is None:
        return _("all of it") if shown else "all of it"
    parts = list(scope["fields"])
    otp = scope.get("otp")
    if otp is not None:
        hours, zone = Hours.from_json(otp["hours"]).describe(), otp["zone"]
        if shown:
            parts.append(_("2FA codes {hours} ({zone})").format(hours=hours, zone=zone))
        else:
            parts.append(f"2FA codes {hours} ({zone})")
    if not parts:
        return _("the title") if shown else "the title"
    return ", ".join(parts)


def item_details(
    sess: Session, item_id: str, reveal: bool, reason: str | None, *, shown: bool = False
) -> dict[str, Any]:
    """One item's fields (secrets only with `reveal`: the password, the TOTP seed and every
    custom field's value); a member's view writes a receipt naming every value it shows,
    before returning it."""
    hidden = _("(hidden)") if shown else "(hidden)"
    is_set = _("(set)") if shown else "(set)"
    payload = sess.payload(item_id)
    custom = payload.get("fields") or {}
    wanted = ["title", "username", "url", "notes"] + (["password", "totp"] if reveal else [])
    present = [f for f in wanted if payload.get(f) not in (None, "")]
    if reveal:
        present += [name for name, value in custom.items() if value not in (None, "")]
    scope = sess.scope(item_id)
    if scope is not None:  # a view holds only what was shared: name only that
        present = [f for f in present if f == "title" or f in scope]
    if not sess.is_owner:
        sess.reveal(item_id, present, reason)
    item = sess.state["items"][item_id]
    names = _names(sess)
    info: dict[str, Any] = {
        k: payload.get(k) for k in ("title", "username", "url", "notes", "tags")
    }
    info["fields"] = dict(custom) if reveal else {name: hidden for name in custom}
    info["password"] = (
        payload.get("password") if reveal else (hidden if payload.get("password") else None)
    )
    info["totp"] = payload.get("totp") if reveal else (is_set if payload.get("totp") else None)
    info["version"] = item["version"]
    info["updated"] = item["updated"]
    if sess.is_owner:
        info["shared_with"] = {names[m]: g.get("expires") for m, g in item["grants"].items()}
        info["scopes"] = {names[m]: scope_words(g, shown=shown) for m, g in item["grants"].items()}
        info["exposed"] = {names.get(m, m[:8]): since for m, since in item["exposed"].items()}
    return info


def member_rows(sess: Session, *, shown: bool = False) -> list[dict[str, Any]]:
    """Current members with id, safety code and the titles each can read (owner's view)."""
    titles = sess.titles() if sess.is_owner else {}
    rows = []
    for member_id, m in sess.state["members"].items():
        if m["removed"]:
            continue
        card = Card.from_envelope(m["card"])
        rows.append(
            {
                "name": m["name"],
                "id": member_id,
                "card_name": card.name,
                "safety_code": card.safety_code,
                "items": [titles.get(i, i[:8]) for i in items_granted_to(sess, member_id)],
                "scopes": {
                    titles.get(i, i[:8]): scope_words(
                        sess.state["items"][i]["grants"][member_id], shown=shown
                    )
                    for i in items_granted_to(sess, member_id)
                },
            }
        )
    return rows
