"""What many commands share: this machine, the opened vault, secrets read without argv."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from vault.errors import UsageError
from vault.i18n import _

from .term import PASSPHRASE, hidden, info, interactive, passphrase, warn

# The identity the agent holds, while it runs a command for a caller (agentcli.py).
PRESET_IDENTITY: list[Any] = []


def app(ctx: click.Context) -> Any:
    """This machine's takusu (vault.machine.Machine), made once per command."""
    from vault.machine import Machine

    obj = ctx.find_root().obj
    if "app" not in obj:
        tries = 3 if interactive() and not PASSPHRASE else 1  # a typo is asked again
        machine = Machine(passphrase=passphrase, passphrase_tries=tries)
        if PRESET_IDENTITY:
            machine._identity = PRESET_IDENTITY[0]  # noqa: SLF001 - the agent's identity
        obj["app"] = machine
    return obj["app"]


def vault_selector(ctx: click.Context) -> str | None:
    return ctx.find_root().obj.get("vault")  # type: ignore[no-any-return]


def session(ctx: click.Context, selector: str | None = None) -> Any:
    """The selected vault, opened; the owner's routine work done; warnings printed; with
    more than one vault on this machine, which one answered (on stderr)."""
    from vault.sharing import upkeep

    machine = app(ctx)
    sess = machine.session(selector or vault_selector(ctx))
    if len(machine.vaults()[1]) > 1:
        info(f"[{sess.entry['name']}]")
    done = upkeep(sess)
    for message in sess.warnings:
        warn(message)
    for _item_id, member_id in done.expired:
        name = sess.member_name(member_id)
        warn(
            _(
                "the access of {name} to an item expired: it was taken back and the item "
                "was locked again with a new key"
            ).format(name=name)
        )
    return sess


def split_title(ctx: click.Context, title: str) -> tuple[str | None, str]:
    """`VAULT/TITLE` -> (VAULT, TITLE) when VAULT names a vault registered here; else the
    vault chosen by --vault / TAKUSU_VAULT / the default, and the title as given."""
    prefix, sep, rest = title.partition("/")
    if sep and rest:
        names = {entry["name"] for entry in app(ctx).vaults()[1].values()}
        if prefix in names:
            return prefix, rest
    return vault_selector(ctx), title


def session_for(ctx: click.Context, title: str) -> tuple[Any, str]:
    """The session of the vault a title belongs to, and the item's id. With more than one
    vault here, the vault that answered is named on stderr; a title found only in another
    of my vaults is an error that names that vault."""
    from vault.errors import NotFound

    selector, wanted = split_title(ctx, title)
    sess = session(ctx, selector)
    try:
        return sess, sess.find(wanted)
    except NotFound:
        elsewhere = _found_elsewhere(ctx, sess, wanted)
        if not elsewhere:
            raise
        name = elsewhere[0]
        raise NotFound(
            _("no item titled {title} in {vault}; it is in the vault {other}").format(
                title=repr(wanted), vault=sess.entry["name"], other=repr(name)
            ),
            hint=_("write {vault}/{title}, or add --vault {vault}").format(
                vault=name, title=wanted
            ),
        ) from None


def _found_elsewhere(ctx: click.Context, current: Any, title: str) -> list[str]:
    """The names of my other vaults where `title` finds an item (their titles only: no
    receipt is written by looking)."""
    from vault.errors import TakusuError

    found = []
    for vault_id, entry in app(ctx).vaults()[1].items():
        if vault_id == current.vault_id:
            continue
        try:
            other = app(ctx).session(vault_id)
            other.find(title)
        except TakusuError:
            continue
        found.append(entry["name"])
    return found


class StdinLines:
    """Secrets piped on stdin: the password line first, then the TOTP line."""

    def __init__(self) -> None:
        self._lines: list[str] | None = None

    def next(self, what: str, missing: str | None = None) -> str:
        """The next line. With none left, UsageError: `missing` (a whole translated
        sentence) if given, else "expected WHAT on stdin"."""
        if self._lines is None:
            self._lines = sys.stdin.read(1 << 16).splitlines()
        if not self._lines:
            if missing is None:
                missing = _("expected {what} on stdin, found nothing").format(what=what)
            raise UsageError(missing)
        return self._lines.pop(0)


def read_secrets(
    password_stdin: bool,
    generate: int | None,
    totp_prompt: bool,
    totp_stdin: bool,
    ask_password: bool,
    lines: StdinLines | None = None,
    for_title: str | None = None,
) -> dict[str, Any]:
    """Collect password/TOTP from stdin, generator or hidden prompts (never argv)."""
    from vault.item import generate_password
    from vault.totp import normalize

    if password_stdin and generate is not None:
        raise UsageError(_("use either --password-stdin or --generate, not both"))
    choice = generator_choice()
    if generate is None and (not choice["symbols"] or choice["chars"]):
        raise UsageError(_("--no-symbols and --chars go with --generate"))
    if totp_prompt and totp_stdin:
        raise UsageError(_("use either --totp or --totp-stdin, not both"))
    values: dict[str, Any] = {}
    lines = lines or StdinLines()
    if password_stdin:
        values["password"] = lines.next(
            "password", _("expected the password on stdin, found nothing")
        )
    elif generate is not None:
        values["password"] = generate_password(generate, **choice)
    elif ask_password and interactive():
        if for_title:
            prompt = _("Password for {title} (typing is not shown)").format(title=for_title)
        else:
            prompt = _("Password of this login (typing is not shown)")
        values["password"] = hidden(prompt, confirm=True)
    if totp_stdin:
        missing = _("expected the 2FA seed or otpauth:// link on stdin, found nothing")
        values["totp"] = normalize(lines.next("2FA seed", missing))
    elif totp_prompt:
        if not interactive():
            raise UsageError(
                _("--totp asks at a prompt and there is no terminal; use --totp-stdin")
            )
        if for_title:
            prompt = _(
                "2FA seed for {title} (the secret key or otpauth:// link; typing is not shown)"
            ).format(title=for_title)
        else:
            prompt = _("2FA seed or otpauth:// link of this login (typing is not shown)")
        values["totp"] = normalize(hidden(prompt))
    return values


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(_("--field takes NAME=VALUE, got {given}").format(given=repr(pair)))
        fields[name] = value
    return fields


def read_fields(
    pairs: tuple[str, ...],
    prompted: tuple[str, ...],
    piped: tuple[str, ...],
    lines: StdinLines,
) -> dict[str, str]:
    """Custom fields: NAME=VALUE from argv (not secret), secret values at hidden prompts
    (--field-prompt) or as the next lines of stdin (--field-stdin, after the password and
    TOTP lines), never on argv."""
    fields = parse_fields(pairs)
    for name in piped:
        missing = _("expected the value of the field {name} on stdin, found nothing")
        fields[name] = lines.next(name, missing.format(name=repr(name)))
    for name in prompted:
        if not interactive():
            raise UsageError(
                _("--field-prompt asks at a prompt and there is no terminal; use --field-stdin")
            )
        prompt = _("Value of the field {name} (typing is not shown)")
        fields[name] = hidden(prompt.format(name=name))
    return fields


class ReadableFile(click.File):
    """click.File (for reading) whose failure says why in the reader's language: click's
    own message carries the system's reason, in English."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            path = os.fsdecode(value) if isinstance(value, str | bytes | os.PathLike) else value
            if isinstance(path, str) and not os.path.lexists(path):
                message = _("there is no file {file}")
            elif isinstance(path, str) and os.path.isdir(path):
                message = _("{file} is a folder, not a file")
            else:
                message = _("cannot read the file {file}")
            self.fail(message.format(file=repr(path)), param, ctx)


_field_options = [
    click.option(
        "--field",
        "fields",
        multiple=True,
        metavar="NAME=VALUE",
        help="A custom field that is not secret (other users of this machine can see "
        "command lines); use --field-prompt or --field-stdin for a secret one.",
    ),
    click.option(
        "--field-prompt",
        "field_prompt",
        multiple=True,
        metavar="NAME",
        help="A custom field whose value is asked at a hidden prompt (repeatable).",
    ),
    click.option(
        "--field-stdin",
        "field_stdin",
        multiple=True,
        metavar="NAME",
        help="A custom field whose value is the next line of stdin (repeatable).",
    ),
]


def field_options(fn: Any) -> Any:
    for option in reversed(_field_options):
        fn = option(fn)
    return fn


def _remember_generator(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """--no-symbols and --chars go to ctx.meta, where `read_secrets` finds them (so the
    commands that generate passwords need no extra parameters)."""
    if value:
        ctx.meta[f"takusu.generate.{param.name}"] = value


def generator_choice() -> dict[str, Any]:
    """The --no-symbols / --chars of the running command, as generate_password's options."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    no_symbols = bool(meta.get("takusu.generate.no_symbols"))
    chars = meta.get("takusu.generate.chars")
    if no_symbols and chars:
        raise UsageError(_("use either --no-symbols or --chars, not both"))
    return {"symbols": not no_symbols, "chars": chars}


def generate_option(help_text: str) -> Any:
    """--generate [LEN] (a random password from `secrets`, 24 characters unless LEN), with
    --no-symbols and --chars SET for sites that refuse some characters."""
    options = [
        click.option(
            "--generate",
            type=click.IntRange(8, 256),
            is_flag=False,
            flag_value=24,
            default=None,
            metavar="[LEN]",
            help=help_text,
        ),
        click.option(
            "--no-symbols",
            is_flag=True,
            expose_value=False,
            callback=_remember_generator,
            help="With --generate: letters and digits only (for sites that refuse symbols).",
        ),
        click.option(
            "--chars",
            metavar="SET",
            expose_value=False,
            callback=_remember_generator,
            help="With --generate: only these characters (e.g. the symbols a site allows).",
        ),
    ]

    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


_secret_options = [
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
    generate_option("Generate a random password (default 24)."),
    click.option(
        "--totp",
        "totp_prompt",
        is_flag=True,
        help="Ask for a TOTP seed or otpauth:// URI at a hidden prompt.",
    ),
    click.option(
        "--totp-stdin",
        is_flag=True,
        help="Read the TOTP seed/URI from stdin (the line after the password).",
    ),
]


def secret_options(fn: Any) -> Any:
    for option in reversed(_secret_options):
        fn = option(fn)
    return fn


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
yes_option = click.option("--yes", is_flag=True, help="Do not ask first (for scripts).")


# --- shell completion: never prompts, never unlocks, never writes a receipt -------------------


def complete_vaults(ctx: click.Context, param: Any, incomplete: str) -> list[str]:
    """Vault names registered on this machine (config.json: nothing to unlock)."""
    from vault.errors import TakusuError
    from vault.home import Home

    try:
        names = [entry["name"] for entry in Home().config()["vaults"].values()]
    except TakusuError:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def complete_members(ctx: click.Context, param: Any, incomplete: str) -> list[str]:
    """Member names of the selected vault, from this machine's verified state cache."""
    from vault.errors import TakusuError
    from vault.home import Home
    from vault.state import empty
    from vault.store.mirror import Mirror

    try:
        home = Home()
        vault_id, _entry = home.resolve(vault_selector(ctx) if ctx.find_root().obj else None)
        st = Mirror(home.path / "vaults" / vault_id).load_state(empty())
    except (TakusuError, OSError):
        return []
    names = [m["name"] for m in st["members"].values() if not m["removed"]]
    return sorted(n for n in names if n.startswith(incomplete))


def complete_titles(ctx: click.Context, param: Any, incomplete: str) -> list[str]:
    """Titles, only while the agent runs (it reads its encrypted index: no receipt)."""
    from vault import __version__
    from vault.agent import client
    from vault.errors import TakusuError
    from vault.home import default_home

    root = ctx.find_root()
    selector = root.params.get("vault_sel") if root.params else None
    try:
        titles = client.call(
            default_home().absolute(),
            "titles",
            {"vault": selector, "version": __version__},
            timeout=5,
        )
    except TakusuError:
        return []
    return sorted(t for t in titles if isinstance(t, str) and t.startswith(incomplete))
