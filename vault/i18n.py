"""Messages in the reader's language, through the standard gettext machinery.

The catalogs are `vault/locale/<lang>/LC_MESSAGES/takusu.mo`, compiled from the `.po` files
beside them by `scripts/i18n.py` (which also extracts the messages from the source). The
language comes from `TAKUSU_LANG` (`ja` or `en`), else the usual `LC_ALL`, `LC_MESSAGES`,
`LANG`; English otherwise. The CLI picks it once per command (`use`), so the agent can
answer callers in different languages.

Every sentence is translated whole, with ``{named}`` placeholders filled after
translation: ``_("Shared {title} with {member}").format(title=..., member=...)``. A
translation whose placeholders differ from its English falls back to the English, so a
broken catalog can garble nothing. `N_` marks a string for extraction where it is only
stored (a table of sentences); it is translated with `_` where it is shown.
"""

from __future__ import annotations

import os

# `typing` costs a command ~5 ms to import; mypy reads this name as typing.TYPE_CHECKING
TYPE_CHECKING = False

if TYPE_CHECKING:
    import gettext
    from collections.abc import Mapping
    from typing import Any

DOMAIN = "takusu"
LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")
LANGUAGES = ("en", "ja")

# The catalog in use; None is English, and then neither `gettext` nor a catalog is loaded
# (a command answered by the agent imports this module, and pays for every import).
_state: dict[str, object] = {"lang": "en", "catalog": None}


def language(environ: Mapping[str, str] | None = None) -> str:
    """`ja` or `en`: TAKUSU_LANG first, then the locale variables in POSIX order."""
    env = os.environ if environ is None else environ
    forced = env.get("TAKUSU_LANG", "").strip().lower()
    if forced:
        return "ja" if forced.startswith("ja") else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "").strip()
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def use(lang: str) -> None:
    """Speak `lang` from now on (an unknown one is English)."""
    lang = lang if lang in LANGUAGES else "en"
    _state["lang"] = lang
    _state["catalog"] = _catalog(lang)


_CATALOGS: dict[str, gettext.NullTranslations] = {}


def _catalog(lang: str) -> gettext.NullTranslations | None:
    if lang == "en":
        return None
    if lang not in _CATALOGS:
        import gettext

        _CATALOGS[lang] = gettext.translation(DOMAIN, LOCALE_DIR, [lang], fallback=True)
    return _CATALOGS[lang]


def current() -> str:
    """The language in use: `en` or `ja`."""
    return str(_state["lang"])


def _(msgid: str) -> str:
    """`msgid` in the language in use (the English when there is no good translation)."""
    catalog: Any = _state["catalog"]
    if catalog is None:
        return msgid
    text = catalog.gettext(msgid)
    return text if text == msgid or fields(text) == fields(msgid) else msgid


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural sentence for `n`, translated."""
    catalog: Any = _state["catalog"]
    english = singular if n == 1 else plural
    if catalog is None:
        return english
    text = catalog.ngettext(singular, plural, n)
    return text if fields(text) <= fields(singular) | fields(plural) else english


def N_(msgid: str) -> str:
    """Marks `msgid` for extraction only; translate it with `_` where it is shown."""
    return msgid


_FIELDS: dict[str, frozenset[str]] = {}


def fields(text: str) -> frozenset[str]:
    """The placeholder names of a format string (`{title}` -> "title"); a string that is
    not a valid format string has the impossible name "!". (Remembered: a dict, not
    functools.lru_cache, which would put `functools` on the thin client's way.)"""
    found = _FIELDS.get(text)
    if found is not None:
        return found
    import string

    try:
        found = frozenset(
            name.split(".")[0].split("[")[0]
            for _literal, name, _spec, _conv in string.Formatter().parse(text)
            if name is not None
        )
    except ValueError:
        found = frozenset({"!"})
    if len(_FIELDS) < 8192:
        _FIELDS[text] = found
    return found
