"""Format `pass`: a password-store folder (passwordstore.org), read through gpg.

The folder has a `.gpg-id` and one `NAME.gpg` per entry, in subfolders. Each file is
decrypted by `gpg --batch --quiet --decrypt FILE` in a child process whose output is
kept in memory only (nothing decrypted is ever written to disk), with an environment of
ENV_PASSED alone (no TAKUSU_PASSPHRASE or anything else reaches it). gpg asks its agent
for the key's passphrase as it always does.

Inside an entry, by pass's convention: the first line is the password; `login:`,
`user:` or `username:` gives the username and `url:` the URL; the first `otpauth://`
line is the TOTP (pass-otp's convention); any other `key: value` line is a custom field;
the remaining lines are the notes. An entry's title is its path in the store without
`.gpg` ('Banking/acme'): that is its name in pass, and unique; its folder is its tag.
Hidden folders (`.git`, `.extensions`) and symbolic links are not read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import partial
from pathlib import Path

from ..errors import BadImport, BadInput, UsageError
from ..i18n import _
from .collect import Collector, Entry
from .common import MAX_SOURCE, group_tag, label, no_mapping
from .record import ReadOptions, ReadResult

MAX_ENTRY_FILE = 1 << 20
GPG_TIMEOUT = 120  # seconds; long enough to type a passphrase into pinentry
# What gpg needs to find its home and to let the agent ask for a passphrase (a terminal
# or a desktop pinentry, in the user's language); nothing else of takusu's environment.
ENV_PASSED = ("PATH", "HOME", "GNUPGHOME", "GPG_TTY", "DISPLAY", "WAYLAND_DISPLAY", "LANG")
USERNAME_KEYS = {"login", "user", "username"}
# 'key: value' (a space or the end after the colon, so 'https://…' is not a field)
_FIELD = re.compile(r"^([^:\s][^:]{0,63}):(?:\s+(.*)|\s*)$")


def parse_entry(text: str, place: str) -> Entry:
    """An entry's decrypted text, split by pass's conventions."""
    lines = text.splitlines()
    entry = Entry(place=place, password=lines[0] if lines else "")
    notes: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.lower().startswith("otpauth://") and not entry.totp:
            entry.totp = stripped
            continue
        match = _FIELD.match(stripped)
        if not match:
            notes.append(line)
            continue
        key, value = match.group(1).strip(), (match.group(2) or "").strip()
        if key.lower() in USERNAME_KEYS and not entry.username:
            entry.username = value
        elif key.lower() == "url" and not entry.url:
            entry.url = value
        else:
            entry.fields.append((key, value))
    entry.notes = "\n".join(notes).strip()
    return entry


def _gpg() -> str:
    for name in ("gpg", "gpg2"):
        found = shutil.which(name)
        if found:
            return found
    raise BadImport(_("gpg is not installed, so the pass store cannot be decrypted"))


def _entries(store: Path, out: Collector) -> list[Path]:
    """The store's .gpg files, sorted; symbolic links and hidden folders left out."""
    files: list[Path] = []
    total = 0

    def unreadable(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, store) if exc.filename else "?"
        out.skip(label(where, 200), _("a folder that cannot be read"))

    for folder, dirs, names in os.walk(store, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if not name.endswith(".gpg") or name.startswith("."):
                continue
            place = label(path.relative_to(store).with_suffix("").as_posix(), 200)
            if path.is_symlink() or not path.is_file():
                out.skip(place, _("a symbolic link or special file (not followed)"))
                continue
            total += path.stat().st_size
            if total > MAX_SOURCE:
                raise BadImport(
                    _("the pass store is larger than {size} MiB").format(size=MAX_SOURCE >> 20)
                )
            files.append(path)
    return files


def decrypt(gpg: str, path: Path) -> bytes:
    """The decrypted bytes of one file, from gpg's stdout; BadInput when gpg fails."""
    if path.stat().st_size > MAX_ENTRY_FILE:
        raise BadInput(_("the file is larger than {size} MiB").format(size=MAX_ENTRY_FILE >> 20))
    env = {k: os.environ[k] for k in ENV_PASSED if k in os.environ}
    try:
        done = subprocess.run(
            [gpg, "--batch", "--quiet", "--decrypt", str(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=GPG_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BadImport(
            _(
                "gpg gave no answer within {seconds} seconds (was it waiting for a passphrase?)"
            ).format(seconds=GPG_TIMEOUT),
            hint=_("unlock the key first, e.g. by running 'pass show' on one entry, then retry"),
        ) from None
    except OSError as exc:
        if exc.strerror:
            raise BadImport(_("cannot run gpg: {reason}").format(reason=exc.strerror)) from None
        raise BadImport(_("cannot run gpg")) from None
    if done.returncode != 0:
        # gpg's own message is not repeated: it may quote the file's metadata
        raise BadInput(
            _("gpg could not decrypt it (exit code {code}; is its key on this computer?)").format(
                code=done.returncode
            )
        )
    return done.stdout


def _read_one(gpg: str, store: Path, path: Path) -> Entry:
    relative = path.relative_to(store).with_suffix("")
    place = label(relative.as_posix(), 200)
    try:
        text = decrypt(gpg, path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(_("the decrypted entry is not UTF-8 text")) from None
    entry = parse_entry(text, place)
    entry.title = relative.as_posix()
    entry.tags = group_tag(relative.parent.parts)
    return entry


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """Every entry of a pass store, decrypted one at a time with gpg."""
    if fmt != "pass":
        raise UsageError(_("the pass reader does not read {format}").format(format=repr(fmt)))
    no_mapping(options, fmt)
    if not path.is_dir():
        raise BadImport(
            _("{path} is not a folder; a pass store is one (with a .gpg-id)").format(path=path)
        )
    if not (path / ".gpg-id").is_file():
        raise BadImport(_("{path} is not a pass store: it has no .gpg-id").format(path=path))
    gpg = _gpg()
    out = Collector(fmt, options)
    for file in _entries(path, out):
        place = label(file.relative_to(path).with_suffix("").as_posix(), 200)
        out.attempt(place, partial(_read_one, gpg, path, file))
    return out.result
