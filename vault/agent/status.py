"""What a running agent says about itself: its `status` reply, read by `takusu status` and
`takusu unlock` (not by the thin client, which never needs `datetime`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ..clock import parse_time
from ..i18n import _
from . import protocol


class Status(NamedTuple):
    """What a running agent says about itself (its `status` op).

    (A NamedTuple, not a dataclass: `dataclasses` costs a command ~15 ms to import.)
    """

    name: str  # the identity's name
    id: str  # the identity's id (32 hex digits; show a prefix)
    pid: int
    started: datetime
    idle_deadline: datetime  # it locks itself then unless used before
    max_deadline: datetime  # it locks itself then whatever happens
    protocol: int
    version: str  # takusu's version in the agent
    socket: Path

    @property
    def until(self) -> datetime:
        """When the agent locks itself if nothing uses it: the nearer of the two deadlines."""
        return min(self.idle_deadline, self.max_deadline)

    @classmethod
    def from_result(cls, result: Any, socket_path: Path) -> Status:
        try:
            return cls(
                name=str(result["name"]),
                id=str(result["id"]),
                pid=int(result["pid"]),
                started=parse_time(result["started"]),
                idle_deadline=parse_time(result["idle_deadline"]),
                max_deadline=parse_time(result["max_deadline"]),
                protocol=int(result["protocol"]),
                version=str(result["version"]),
                socket=socket_path,
            )
        except (KeyError, TypeError, ValueError):
            raise protocol.ProtocolError(_("the agent's status reply is malformed")) from None
