"""The agent: one process per TAKUSU_HOME that holds the unlocked identity in memory.

`takusu unlock` starts it (`launch.start`), every later command asks it to do the work
(`client.call`), `takusu lock` ends it (`client.stop`). The private keys never leave the
agent process; commands that talk to it load neither `cryptography` nor `keyring`.

Modules: `paths` (where the socket lives, and its checks), `protocol` (the frames),
`client` (thin: a few builtin modules, `vault.errors`, `vault.i18n`, `paths`, `protocol`
and `lightjson`, the thin client's JSON), `status` (the status reply), `server` (the loop,
timers, peer checks), `launch` (starting the detached process), `__main__` (the agent
process itself). This file stays import-light: the client imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import timedelta

_DEFAULTS = {"DEFAULT_IDLE": 15 * 60, "DEFAULT_MAX": 8 * 3600}  # seconds


def __getattr__(name: str) -> timedelta:
    """DEFAULT_IDLE (15 minutes) and DEFAULT_MAX (8 hours), made on first use: the thin
    client imports this package, and `datetime` is not on its way."""
    if name in _DEFAULTS:
        from datetime import timedelta

        return timedelta(seconds=_DEFAULTS[name])
    raise AttributeError(name)
