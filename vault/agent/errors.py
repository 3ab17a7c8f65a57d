"""The agent's failures: each a TakusuError, so the CLI prints them like any other.

`AgentError` carries an exit code per instance, so an error that crossed the socket keeps
the exit code the agent gave it. A class's `default_hint` is translated when the error is
made (in the language in use then).
"""

from __future__ import annotations

from .. import i18n
from ..errors import EXIT_USER, TakusuError
from ..i18n import N_


class AgentError(TakusuError):
    """The agent failed, or failed to answer; `kind` names the error class on the agent's side."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        exit_code: int = EXIT_USER,
        kind: str | None = None,
    ) -> None:
        if hint is None and self.default_hint is not None:
            hint = i18n._(self.default_hint)
        super().__init__(message, hint)
        self.exit_code = exit_code
        self.kind = kind or type(self).__name__


class AgentNotRunning(AgentError):
    """No agent answers for this TAKUSU_HOME (none started, locked, or a stale socket)."""

    default_hint = N_("run 'takusu unlock' first")


class AgentStopped(AgentError):
    """The agent closed the connection before it answered (killed, or it locked itself)."""

    default_hint = N_("run 'takusu unlock' to start it again")


class AgentVersionMismatch(AgentError):
    """The running agent speaks another protocol version (takusu was upgraded under it)."""

    default_hint = N_("run 'takusu unlock' again: it replaces the old agent")


class PeerRefused(AgentError):
    """A process of another user connected (refused by SO_PEERCRED)."""
