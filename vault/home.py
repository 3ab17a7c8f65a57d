"""This machine's data dir (TAKUSU_HOME) and its small registry of vaults and pins.

`config.json` lists the vaults this machine knows, which is the default, and the owner
fingerprint pinned when each was created or opened. It holds no secrets.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any, TypedDict

from . import fsutil, labels
from .encoding import dumps, loads
from .errors import Ambiguous, Malformed, NoVault, UnknownVersion
from .i18n import _


class VaultEntry(TypedDict):
    """One vault this machine knows: its name here, folder, my role and the pinned owner."""

    name: str
    path: str
    role: str  # "owner" or "member"
    owner: dict[str, Any]  # the owner's card envelope, pinned when created or opened
    owner_name: str


def default_home() -> Path:
    env = os.environ.get("TAKUSU_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("takusu", appauthor=False))


def _valid_entry(vault_id: object, entry: object) -> bool:
    return (
        isinstance(vault_id, str)
        and isinstance(entry, dict)
        and all(isinstance(entry.get(k), str) for k in ("name", "path", "role"))
        and isinstance(entry.get("owner"), dict)
    )


class Home:
    """TAKUSU_HOME: identity.key, config.json, vaults/<id>/ (mirror, cache), locks/."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or default_home()).absolute()
        self.config_path = self.path / "config.json"

    def config(self) -> dict[str, Any]:
        try:
            raw = fsutil.read_bytes(self.config_path, labels.MAX_SMALL_FILE)
        except FileNotFoundError:
            return {"v": labels.FORMAT_VERSION, "default": None, "vaults": {}, "recovery_kit": None}
        doc = loads(raw, "config.json")
        if not isinstance(doc, dict) or not labels.is_current(doc.get("v")):
            raise UnknownVersion(_("{file} has an unknown version").format(file=self.config_path))
        vaults = doc.get("vaults")
        if (
            not isinstance(vaults, dict)
            or not all(_valid_entry(k, v) for k, v in vaults.items())
            or not isinstance(doc.get("default"), str | None)
        ):
            raise Malformed(
                _("{file} is malformed").format(file=self.config_path),
                hint=_("fix or remove it, then 'takusu vault open PATH' again"),
            )
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        fsutil.ensure_dir(self.path)
        fsutil.atomic_write(self.config_path, dumps(doc))

    def register(self, vault_id: str, entry: VaultEntry) -> None:
        """Remember a vault; the first one becomes the default."""
        doc = self.config()
        entry = {**entry, "name": unicodedata.normalize("NFC", entry["name"])}
        doc["vaults"][vault_id] = entry
        if not doc.get("default"):
            doc["default"] = vault_id
        self.save(doc)

    def resolve(self, selector: str | None) -> tuple[str, VaultEntry]:
        """Find a registered vault by name, id prefix or folder path (or the default)."""
        doc = self.config()
        vaults = doc["vaults"]
        if not selector:
            selector = os.environ.get("TAKUSU_VAULT") or None
        if not selector:
            if doc.get("default") in vaults:
                return doc["default"], vaults[doc["default"]]
            raise NoVault(_("no vault selected and no default vault on this machine"))
        by_name = [k for k, v in vaults.items() if v.get("name") == selector] or [
            k for k, v in vaults.items() if _fold(str(v.get("name"))) == _fold(selector)
        ]
        if len(by_name) == 1:
            return by_name[0], vaults[by_name[0]]
        if len(by_name) > 1:
            raise Ambiguous(
                _("several vaults are named {name!r}").format(name=selector),
                hint=_("pass the folder path with --vault instead"),
            )
        target = Path(selector).expanduser()
        if target.exists():
            resolved = target.resolve()
            for key, entry in vaults.items():
                if Path(entry["path"]).resolve() == resolved:
                    return key, entry
            raise NoVault(
                _("{folder} is not registered on this machine").format(folder=selector),
                hint=_("run 'takusu vault open PATH' first"),
            )
        prefixed = [k for k in vaults if k.startswith(selector.lower())]
        if len(prefixed) == 1:
            return prefixed[0], vaults[prefixed[0]]
        raise NoVault(
            _("no vault named {name!r} on this machine").format(name=selector),
            hint=_("'takusu vault list' shows the vaults this machine knows"),
        )


def _fold(name: str) -> str:
    """Vault names compare like titles: composed Unicode form, case ignored."""
    return unicodedata.normalize("NFC", name).casefold()
