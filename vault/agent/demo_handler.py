"""A handler for trying the agent: `echo` returns its arguments, `whoami` the identity.

The real one is `vault.agentops:handle`; this one exists so the agent can be started
and exercised before (and without) it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..identity import Identity


def handle(op: str, args: dict[str, Any], identity: Identity) -> Any:
    """The result of `op`; UsageError for an op it does not know."""
    if op == "echo":
        return args
    if op == "whoami":
        return {"name": identity.card.name, "id": identity.id}
    raise UsageError(_("the agent does not know the operation {op}").format(op=repr(op)))
