"""The vault folder and this machine's verified view of it.

- folder.py    the shared folder's files: vault.json, logs/, sync-conflict copies
- mirror.py    TAKUSU_HOME/vaults/<id>/: the verified copy of every log and the state cache
- verify.py    the one line-by-line verifier every path uses
- arrivals.py  read what arrived since this machine's heads, verify it, take it in
- fullpass.py  the thorough pass of `audit verify` and `doctor`: whole logs from seq 0
- repair.py    put damaged logs back from the mirror (`doctor --repair`)
- problems.py  what can be wrong (`Kind`, `Problem`) and what a load returns (`Loaded`)
- store.py     `Store`: load, and the one `Writer` through which every event is appended
"""

from .folder import VaultFolder
from .problems import Kind, Loaded, Problem
from .store import Store, Writer

__all__ = ["Kind", "Loaded", "Problem", "Store", "VaultFolder", "Writer"]
