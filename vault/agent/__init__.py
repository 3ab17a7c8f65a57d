"""The agent: one process per TAKUSU_HOME that holds the unlocked identity in memory.

`takusu unlock` starts it (`launch.start`), every later command asks it to do the work
(`client.call`), `takusu lock` ends it (`client.stop`). The private keys never leave the
agent process; commands that talk to it load neither `cryptography` nor `keyring`.

Modules: `paths` (where the socket lives, and its checks), `protocol` (the frames),
`client` (thin: stdlib, `vault.errors`, `vault.clock`, `vault.encoding` only), `server`
(the loop, timers, peer checks), `launch` (starting the detached process), `__main__`
(the agent process itself). This file stays import-light: the client imports it.
"""

from __future__ import annotations

from datetime import timedelta

DEFAULT_IDLE = timedelta(minutes=15)
DEFAULT_MAX = timedelta(hours=8)
