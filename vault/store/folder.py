"""The shared vault folder as files: `vault.json`, `logs/<member-id>.jsonl`, and the
sync-conflict copies of logs that Dropbox or Syncthing leave beside them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import fsutil, labels
from ..encoding import loads
from ..errors import IntegrityError, Malformed, NoVault, UnknownVersion
from ..i18n import _

_LOG_NAME = re.compile(r"^(?P<id>[0-9a-f]{32})(?P<rest>.*)\.jsonl$")
_CONFLICT = re.compile(r"(\(.*conflicted copy.*\)|\.sync-conflict-[0-9A-Za-z-]+)")


class VaultFolder:
    """The shared folder: vault.json and logs/<member-id>.jsonl (plus sync-conflict copies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.logs = path / "logs"

    def meta(self) -> dict[str, Any]:
        meta_path = self.path / "vault.json"
        try:
            raw = fsutil.read_bytes(meta_path, labels.MAX_SMALL_FILE)
        except FileNotFoundError:
            raise NoVault(
                _("{path} is not a takusu vault (no vault.json)").format(path=self.path),
                hint=_("check the path; the owner's folder may not have synced here yet"),
            ) from None
        meta = loads(raw, "vault.json")
        if not isinstance(meta, dict) or not labels.is_current(meta.get("v")):
            raise UnknownVersion(_("{path} has an unknown format version").format(path=meta_path))
        if not isinstance(meta.get("vault"), str) or not re.fullmatch(
            r"[0-9a-f]{32}", meta["vault"]
        ):
            raise Malformed(_("{path} has no valid vault id").format(path=meta_path))
        if not isinstance(meta.get("name"), str) or not isinstance(meta.get("owner_card"), dict):
            raise Malformed(_("{path} is malformed").format(path=meta_path))
        return meta

    def log_path(self, member_id: str) -> Path:
        return self.logs / f"{fsutil.check_id(member_id)}.jsonl"

    def read_log(self, member_id: str) -> bytes:
        """A log's bytes as they are in the folder (empty if it does not exist)."""
        try:
            return fsutil.read_bytes(self.log_path(member_id), labels.MAX_LOG)
        except FileNotFoundError:
            return b""

    def check_logs_dir(self) -> None:
        """logs/ itself must be a real folder: O_NOFOLLOW guards only a path's last part."""
        if self.logs.is_symlink():
            raise IntegrityError(
                _("{path} is a symbolic link; takusu does not follow links").format(path=self.logs)
            )

    def sources(self) -> tuple[dict[str, list[Path]], list[Path]]:
        """Conflict copies of each writer's log, and files that are neither logs nor copies."""
        copies: dict[str, list[Path]] = {}
        unknown: list[Path] = []
        if not self.logs.is_dir():
            return copies, unknown
        for entry in sorted(self.logs.iterdir()):
            match = _LOG_NAME.fullmatch(entry.name)
            if match and match["rest"] == "":
                copies.setdefault(match["id"], [])
            elif match and _CONFLICT.search(match["rest"]):
                copies.setdefault(match["id"], []).append(entry)
            elif not entry.name.startswith("."):
                unknown.append(entry)
        return copies, unknown
