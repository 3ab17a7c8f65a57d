"""KeePass 2 and KeePassXC: the XML export (`keepass-xml`) and the database itself (`kdbx`).

Both carry the same `KeePassFile` XML (inside a .kdbx it is encrypted), so one walker
reads both. The XML export is parsed with lxml set to resolve no entities, load no DTD,
use no network and keep its size limits (`huge_tree=False`), and any document with a
DOCTYPE is refused (KeePass never writes one). A .kdbx is decrypted in memory by
pykeepass (see `_open_kdbx`): no plaintext copy ever touches the disk.

Per entry: Title, UserName, Password, URL and Notes become the item's fields; TOTP is
read from KeePassXC's `otp` (an otpauth URI or the KeeOTP `key=...&step=...` form), the
older `TOTP Seed` + `TOTP Settings` pair, or KeePass 2.47+'s `TimeOtp-*` strings, and
always validated by `vault.totp.normalize`; every other string becomes a custom field;
the entry's tags are kept and its group path (without the root group) becomes one more
tag. The Recycle Bin and the templates group are skipped, older versions (History) are
not read, attachments are reported as not imported.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import io
import os
import re
import stat
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlparse

from ..errors import BadImport, BadInput, TakusuError, UsageError, UserError
from ..i18n import _, ngettext
from ..totp import normalize
from .common import cannot_read
from .record import ReadOptions, ReadResult, Record, Refusal

MAX_FILE = 128 << 20  # the .kdbx or .xml file itself
MAX_XML = 512 << 20  # a .kdbx's payload once decompressed (a gzip bomb stops here)
MAX_ENTRY = 64 << 10  # the UTF-8 size of one entry's names and values together
MAX_DEPTH = 100  # nested groups
MAX_TITLE = 200  # what a takusu title may hold
# What a .kdbx may ask of the machine before its password can even be checked.
MAX_ARGON2_MEMORY = 1 << 30  # bytes
MAX_ARGON2_WORK = (64 << 20) * 1000  # bytes of memory times iterations
MAX_ARGON2_ITERATIONS = 100_000
MAX_ARGON2_PARALLELISM = 256
MAX_AES_ROUNDS = 500_000_000

STANDARD_KEYS = {"Title": "title", "UserName": "username", "Password": "password"}
STANDARD_KEYS |= {"URL": "url", "Notes": "notes"}
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_ZERO_UUID = base64.b64encode(bytes(16)).decode()
_ALGORITHMS = {
    "": "SHA1",
    "SHA1": "SHA1",
    "SHA256": "SHA256",
    "SHA512": "SHA512",
    "HMACSHA1": "SHA1",
    "HMACSHA256": "SHA256",
    "HMACSHA512": "SHA512",
}

# KDBX outer header (KeePass's KdbxFile.cs): signatures and the KDF ids it may name.
_SIG1 = 0x9AA2D903
_SIG2_KDBX = 0xB54BFB67
_SIG2_KDB = 0xB54BFB65  # KeePass 1.x
_SIG2_PRE = 0xB54BFB66  # KeePass 2.x pre-release
_KDF_AES = bytes.fromhex("c9d9f39a628a4460bf740d08c18a4fea")
_KDF_ARGON2D = bytes.fromhex("ef636ddf8c29444b91f7a9a403e30a0c")
_KDF_ARGON2ID = bytes.fromhex("9e298b1956db4773b23dfc3ec6f0a1e6")


def read(path: Path, fmt: str, options: ReadOptions) -> ReadResult:
    """Read a KeePass XML export (`keepass-xml`) or a .kdbx database (`kdbx`)."""
    if fmt == "keepass-xml":
        root = _parse_xml(read_source_file(path, MAX_FILE), path)
        return _walk(root, fmt, options, encrypted_values_ok=False)
    if fmt == "kdbx":
        root = _open_kdbx(read_source_file(path, MAX_FILE), path, options)
        return _walk(root, fmt, options, encrypted_values_ok=True)
    raise UsageError(_("the KeePass reader does not read {format}").format(format=repr(fmt)))


# ---------------------------------------------------------------- the source file


def read_source_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file (a FIFO or folder is refused, not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BadImport(_("{path} does not exist").format(path=path)) from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise BadImport(_("cannot read {path}: it is a folder").format(path=path)) from None
        raise cannot_read(path, exc) from None
    too_large = _("{path} is larger than takusu reads ({size} MiB)")
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadImport(_("cannot read {path}: it is a folder").format(path=path))
        if not stat.S_ISREG(info.st_mode):
            raise BadImport(_("cannot read {path}: it is not a regular file").format(path=path))
        if info.st_size > limit:
            raise BadImport(too_large.format(path=path, size=limit >> 20))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise BadImport(too_large.format(path=path, size=limit >> 20))
        return b"".join(chunks)
    except OSError as exc:
        raise cannot_read(path, exc) from None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the XML export


def _parse_xml(data: bytes, path: Path) -> Any:
    first_element = re.search(rb"<[A-Za-z_]", data)
    if b"<!DOCTYPE" in data[: first_element.start() if first_element else len(data)]:
        _refuse_dtd(None, path)  # before parsing: nothing it names is ever looked at

    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        tree = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as exc:
        # lxml's own text can quote the document; only the line number is kept
        if getattr(exc, "lineno", None):
            raise BadImport(
                _("{path} is not well-formed XML (line {line})").format(path=path, line=exc.lineno)
            ) from None
        raise BadImport(_("{path} is not well-formed XML").format(path=path)) from None
    except (etree.LxmlError, ValueError, MemoryError):
        raise BadImport(_("{path} could not be read as XML").format(path=path)) from None
    _refuse_dtd(tree, path)
    return tree.getroot()


def _refuse_dtd(tree: Any, path: Path) -> None:
    if tree is None or tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise BadImport(
            _(
                "{path} declares a DOCTYPE, which a KeePass export never has; takusu does not "
                "read it"
            ).format(path=path),
            hint=_("export it again from KeePass or KeePassXC (File > Export > XML)"),
        )


# ---------------------------------------------------------------- the .kdbx database


def require_kdbx() -> None:
    """KeePass files need pykeepass, the optional `kdbx` extra: say how to install it,
    before any password is asked."""
    try:
        import pykeepass  # noqa: F401 - only to see that it is there
    except ImportError:
        raise UserError(
            _("reading or writing KeePass files needs the optional pykeepass library"),
            hint=_("install it with: pip install 'takusu[kdbx]' (in takusu's own environment)"),
        ) from None


def _open_kdbx(data: bytes, path: Path, options: ReadOptions) -> Any:
    """Decrypt a .kdbx in memory and return the root of its XML."""
    header = _kdbx_header(data, path)
    require_kdbx()
    if options.password is None:
        raise UsageError(_("reading a .kdbx needs its password"))
    password = options.password()
    if not isinstance(password, str):
        raise UsageError(_("reading a .kdbx needs its password"))
    transformed = None
    if header["kdf"] == "aes":
        transformed = _aes_kdf(password, header["seed"], header["rounds"])

    from lxml import etree
    from pykeepass import PyKeePass
    from pykeepass.exceptions import (
        CredentialsError,
        HeaderChecksumError,
        PayloadChecksumError,
    )

    damaged = _("{path} is damaged or cut short (its checksums do not match)").format(path=path)
    try:
        with _bounded_decompression(path):
            kp = PyKeePass(io.BytesIO(data), password=password or None, transformed_key=transformed)
        tree = kp.tree
    except TakusuError:
        raise
    except CredentialsError:
        raise BadImport(
            _(
                "cannot open {path}: wrong password, or the database also needs a key file "
                "(takusu does not support key files yet)"
            ).format(path=path),
            hint=_(
                "check the password; if KeePassXC also asks for a key file or a hardware key, "
                "remove it in KeePassXC (Database > Database Security) and try again"
            ),
        ) from None
    except (HeaderChecksumError, PayloadChecksumError, zlib.error):
        raise BadImport(damaged) from None
    except etree.LxmlError:
        raise BadImport(
            _("{path} holds XML that is not well-formed; takusu does not read it").format(path=path)
        ) from None
    except MemoryError:
        raise BadImport(_("{path} is too large to read").format(path=path)) from None
    except Exception:  # construct and the ciphers raise many kinds of error on bad bytes
        raise BadImport(
            _(
                "{path} could not be read as a KeePass database (damaged, cut short or of a "
                "kind takusu does not read)"
            ).format(path=path)
        ) from None
    _refuse_dtd(tree, path)
    return tree.getroot()


def _kdbx_header(data: bytes, path: Path) -> dict[str, Any]:
    """The outer header's version and KDF, checked against the limits before any KDF runs."""
    not_kdbx = BadImport(_("{path} is not a KeePass database (.kdbx)").format(path=path))
    if len(data) < 12:
        raise not_kdbx
    sig1, sig2, minor, major = struct.unpack_from("<IIHH", data, 0)
    if sig1 != _SIG1:
        raise not_kdbx
    if sig2 in (_SIG2_KDB, _SIG2_PRE):
        raise BadImport(
            _("{path} is a KeePass 1 (.kdb) database, which takusu does not read").format(
                path=path
            ),
            hint=_("open it in KeePassXC and save it as a .kdbx first"),
        )
    if sig2 != _SIG2_KDBX:
        raise not_kdbx
    if major not in (3, 4):
        raise BadImport(
            _("{path} is a KDBX {version} database; takusu reads KDBX 3.1 and 4").format(
                path=path, version=f"{major}.{minor}"
            )
        )
    fields: dict[int, bytes] = {}
    pos = 12
    size_fmt = "<I" if major == 4 else "<H"
    width = struct.calcsize(size_fmt)
    try:
        while True:
            field_id = data[pos]
            (length,) = struct.unpack_from(size_fmt, data, pos + 1)
            pos += 1 + width
            value = data[pos : pos + length]
            if len(value) != length:
                raise IndexError
            pos += length
            if field_id == 0:
                break
            fields[field_id] = value
    except (IndexError, struct.error):
        raise BadImport(
            _("{path} is damaged or cut short (its header ends early)").format(path=path)
        ) from None
    try:
        if major == 3:
            kdf = {"kdf": "aes", "seed": fields[5], "rounds": struct.unpack("<Q", fields[6])[0]}
        else:
            kdf = _kdf_parameters(fields[11])
    except (KeyError, IndexError, struct.error, UnicodeDecodeError):
        raise BadImport(
            _("{path} is damaged (its key derivation settings are unreadable)").format(path=path)
        ) from None
    _check_kdf_cost(kdf, path)
    return {"major": major, "minor": minor} | kdf


def _kdf_parameters(blob: bytes) -> dict[str, Any]:
    """KDBX 4's VariantDictionary of KDF parameters."""
    items: dict[str, Any] = {}
    pos = 2  # format version
    while blob[pos] != 0:
        kind = blob[pos]
        (klen,) = struct.unpack_from("<i", blob, pos + 1)
        key = blob[pos + 5 : pos + 5 + klen].decode("utf-8")
        pos += 5 + klen
        (vlen,) = struct.unpack_from("<i", blob, pos)
        raw = blob[pos + 4 : pos + 4 + vlen]
        if len(raw) != vlen or klen < 0:
            raise IndexError
        pos += 4 + vlen
        ints = {0x04: "<I", 0x05: "<Q", 0x0C: "<i", 0x0D: "<q"}
        items[key] = struct.unpack(ints[kind], raw)[0] if kind in ints else raw
    uuid = items["$UUID"]
    if uuid == _KDF_AES:
        found = {"kdf": "aes", "seed": items["S"], "rounds": items["R"]}
        kinds = {"seed": bytes, "rounds": int}
    elif uuid in (_KDF_ARGON2D, _KDF_ARGON2ID):
        name = "argon2id" if uuid == _KDF_ARGON2ID else "argon2d"
        found = {"kdf": name, "memory": items["M"], "iterations": items["I"], "lanes": items["P"]}
        kinds = {"memory": int, "iterations": int, "lanes": int}
    else:
        return {"kdf": "unknown"}
    if not all(isinstance(found[key], kind) for key, kind in kinds.items()):
        raise IndexError  # a parameter of the wrong type: damaged
    return found


def _check_kdf_cost(kdf: dict[str, Any], path: Path) -> None:
    lower = _("lower it in KeePassXC (Database > Database Security > Encryption Settings)")
    if kdf["kdf"] == "unknown":
        raise BadImport(
            _("{path} uses a way of deriving its key that takusu does not know").format(path=path)
        )
    if kdf["kdf"] == "aes":
        if len(kdf["seed"]) != 32:
            raise BadImport(
                _("{path} is damaged (its key derivation seed has the wrong size)").format(
                    path=path
                )
            )
        if not 1 <= kdf["rounds"] <= MAX_AES_ROUNDS:
            raise BadImport(
                _(
                    "{path} asks for {rounds} rounds of work to open; takusu allows up to {max}"
                ).format(path=path, rounds=kdf["rounds"], max=MAX_AES_ROUNDS),
                hint=lower,
            )
        return
    memory, iterations, lanes = kdf["memory"], kdf["iterations"], kdf["lanes"]
    if not (8 << 10) <= memory <= MAX_ARGON2_MEMORY or not 1 <= lanes <= MAX_ARGON2_PARALLELISM:
        raise BadImport(
            _(
                "{path} asks for {memory} MiB and {threads} threads to open; takusu allows "
                "up to {max_memory} MiB and {max_threads} threads"
            ).format(
                path=path,
                memory=memory >> 20,
                threads=lanes,
                max_memory=MAX_ARGON2_MEMORY >> 20,
                max_threads=MAX_ARGON2_PARALLELISM,
            ),
            hint=lower,
        )
    if not 1 <= iterations <= MAX_ARGON2_ITERATIONS or memory * iterations > MAX_ARGON2_WORK:
        raise BadImport(
            _(
                "{path} asks for {iterations} iterations over {memory} MiB to open, more than "
                "takusu allows"
            ).format(path=path, iterations=iterations, memory=memory >> 20),
            hint=lower,
        )


def _aes_kdf(password: str, seed: bytes, rounds: int) -> bytes:
    """KeePass's AES-KDF: each half of the composite key AES-256-ECB-encrypted `rounds`
    times, then SHA-256. Encrypting one block over and over is CBC over zero blocks, so
    the loop runs in C (pykeepass's own is a Python loop: minutes for a usual database)."""
    from Cryptodome.Cipher import AES  # pykeepass's cipher library

    composite = hashlib.sha256(
        hashlib.sha256(password.encode("utf-8")).digest() if password else b""
    ).digest()
    zeros = bytes(16 << 16)
    halves = []
    for half in (composite[:16], composite[16:]):
        cipher = AES.new(seed, AES.MODE_CBC, iv=half)
        last, left = half, rounds
        while left:
            count = min(left, len(zeros) // 16)
            last = cipher.encrypt(zeros[: 16 * count])[-16:]
            left -= count
        halves.append(last)
    return hashlib.sha256(b"".join(halves)).digest()


@contextlib.contextmanager
def _bounded_decompression(path: Path) -> Iterator[None]:
    """While pykeepass parses, its gzip step stops at MAX_XML (it has no limit of its own)."""
    from pykeepass.kdbx_parsing import common

    adapter = getattr(common, "Decompressed", None)
    original = getattr(adapter, "_decode", None)
    if adapter is None or original is None:  # a pykeepass that changed: rely on MAX_FILE
        yield
        return
    limit = MAX_XML

    def _decode(self: Any, data: bytes, con: Any, where: Any) -> bytes:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise BadImport(
                _("{path} unpacks to more than takusu reads ({size} MiB)").format(
                    path=path, size=limit >> 20
                )
            )
        if not inflater.eof:
            raise zlib.error("truncated")
        return out

    adapter._decode = _decode
    try:
        yield
    finally:
        adapter._decode = original


# ---------------------------------------------------------------- the walk


class _Walk:
    def __init__(self, fmt: str, options: ReadOptions, encrypted_values_ok: bool) -> None:
        self.result = ReadResult(format=fmt)
        self.options = options
        self.encrypted_values_ok = encrypted_values_ok
        self.count = 0
        self.history = 0
        self.skip_groups: dict[str, str] = {}


def _walk(root: Any, fmt: str, options: ReadOptions, encrypted_values_ok: bool) -> ReadResult:
    if root.tag != "KeePassFile":
        raise BadImport(_("this is not a KeePass file (it has no KeePassFile element)"))
    top = root.find("Root/Group")
    if top is None:
        raise BadImport(_("this KeePass file has no root group"))
    walk = _Walk(fmt, options, encrypted_values_ok)
    meta = root.find("Meta")
    if meta is not None:
        for tag, why in (
            ("RecycleBinUUID", _("in the recycle bin")),
            ("EntryTemplatesGroup", _("an entry template")),
        ):
            uuid = (meta.findtext(tag) or "").strip()
            if uuid and uuid != _ZERO_UUID:
                walk.skip_groups[uuid] = why
    _group(walk, top, [], None, 0)
    if walk.history:
        walk.result.notices.append(
            ngettext(
                "{n} older version of an entry (KeePass history) was not imported",
                "{n} older versions of entries (KeePass history) were not imported",
                walk.history,
            ).format(n=walk.history)
        )
    return walk.result


def _group(walk: _Walk, group: Any, path: list[str], skipping: str | None, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadImport(
            _("groups are nested more than {max} deep; takusu does not read them").format(
                max=MAX_DEPTH
            )
        )
    for child in group:
        if child.tag == "Entry":
            walk.count += 1
            walk.history += len(child.findall("History/Entry"))
            if skipping is not None:
                walk.result.skipped.append(Refusal(_place(walk.count, child, path), skipping))
                continue
            _entry(walk, child, path)
        elif child.tag == "Group":
            name = child.findtext("Name") or ""
            why = skipping or walk.skip_groups.get((child.findtext("UUID") or "").strip())
            _group(walk, child, [*path, name], why, depth + 1)


def _strings(walk: _Walk, entry: Any) -> dict[str, str]:
    """The entry's String elements as key -> value; BadInput (the refusal's reason) if off."""
    strings: dict[str, str] = {}
    size = len((entry.findtext("Tags") or "").encode("utf-8"))
    for node in entry.findall("String"):
        key = node.findtext("Key") or ""
        value_node = node.find("Value")
        value = "" if value_node is None else (value_node.text or "")
        if value_node is not None and value_node.get("Protected", "").lower() == "true":
            if not walk.encrypted_values_ok and value:
                raise BadImport(
                    _("this XML holds encrypted values (it is not a plain export)"),
                    hint=_("export it again from KeePass or KeePassXC (File > Export > XML)"),
                )
        size += len(key.encode("utf-8", "surrogatepass")) + len(
            value.encode("utf-8", "surrogatepass")
        )
        if size > MAX_ENTRY:
            raise BadInput(
                _("the entry is larger than takusu imports ({size} KiB)").format(
                    size=MAX_ENTRY >> 10
                )
            )
        if not key or _has_bad_chars(key):
            raise BadInput(_("a field name is empty or holds control characters"))
        if key in strings:
            raise BadInput(_("the field {name} appears twice").format(name=repr(shown(key))))
        strings[key] = value
    return strings


def _entry(walk: _Walk, entry: Any, path: list[str]) -> None:
    place = _place(walk.count, entry, path)
    try:
        walk.result.records.append(_record(walk, entry, path, place))
    except BadInput as exc:
        walk.result.refused.append(Refusal(place, exc.message))


def _record(walk: _Walk, entry: Any, path: list[str], place: str) -> Record:
    strings = _strings(walk, entry)
    title = unicodedata.normalize("NFC", strings.get("Title", "").strip())
    if not title:
        title = _host(strings.get("URL", ""))
    if not title:
        raise BadInput(_("the entry has no title (and no URL to name it by)"))
    if _has_bad_chars(title):
        raise BadInput(_("the title holds control or invisible formatting characters"))
    if len(title) > MAX_TITLE:
        raise BadInput(_("the title is longer than {max} characters").format(max=MAX_TITLE))
    for name in path:
        if _has_bad_chars(name):
            raise BadInput(_("a group name holds control or invisible formatting characters"))
    tags = [t.strip() for t in re.split(r"[;,]", entry.findtext("Tags") or "") if t.strip()]
    if any(_has_bad_chars(t) for t in tags):
        raise BadInput(_("a tag holds control or invisible formatting characters"))
    if path:
        tags.append("/".join(name.strip() or "(unnamed)" for name in path))

    record = Record(title=title, place=place)
    for key, attr in STANDARD_KEYS.items():
        if key != "Title":
            setattr(record, attr, strings.get(key) or None)
    consumed = set(STANDARD_KEYS)
    try:
        found = _totp(strings, title)
    except BadInput as exc:
        if not walk.options.skip_bad_totp:
            raise BadInput(
                _("its 2FA seed is not usable: {problem}").format(problem=exc.message)
            ) from None
        record.notices.append(
            _(
                "its 2FA seed was not imported ({problem}); the original is kept as a custom field"
            ).format(problem=exc.message)
        )
    else:
        if found is not None:
            record.totp, used = found
            consumed |= used
    record.fields = {k: v for k, v in strings.items() if k not in consumed and v != ""}
    record.tags = list(dict.fromkeys(tags))
    attachments = len(entry.findall("Binary"))
    if attachments:
        record.notices.append(
            ngettext(
                "{n} attachment was not imported (takusu keeps no files)",
                "{n} attachments were not imported (takusu keeps no files)",
                attachments,
            ).format(n=attachments)
        )
    return record


# ---------------------------------------------------------------- TOTP


def _totp(strings: dict[str, str], label: str) -> tuple[str, set[str]] | None:
    """The entry's TOTP as a validated otpauth URI and the keys it came from, if it has one.
    KeePassXC's order: `otp`, then `TOTP Seed`; then KeePass's own `TimeOtp-*`."""
    if strings.get("otp", "").strip():
        return _from_otp(strings["otp"], label), {"otp"}
    if strings.get("TOTP Seed", "").strip():
        settings = strings.get("TOTP Settings", "").strip() or "30;6"
        parts = [p.strip() for p in settings.split(";")]
        period = parts[0] or "30"
        digits = parts[1] if len(parts) > 1 and parts[1] else "6"
        if digits.upper() == "S":
            raise BadInput(_("it is a Steam Guard code, which takusu does not support"))
        return _uri(label, strings["TOTP Seed"], period, digits, "SHA1"), {
            "TOTP Seed",
            "TOTP Settings",
        }
    time_otp = {k for k in strings if k.startswith("TimeOtp-")}
    secret = _time_otp_secret(strings)
    if secret is not None:
        algorithm = strings.get("TimeOtp-Algorithm", "").strip()
        return _uri(
            label,
            secret,
            strings.get("TimeOtp-Period", "").strip() or "30",
            strings.get("TimeOtp-Length", "").strip() or "6",
            algorithm,
        ), time_otp
    return None


def _from_otp(value: str, label: str) -> str:
    value = value.strip()
    if value.lower().startswith("otpauth:"):
        try:
            params = dict(parse_qsl(urlparse(value).query))
        except ValueError:
            raise BadInput(_("the otpauth:// address is not valid")) from None
        if params.get("encoder", "").lower() == "steam":
            raise BadInput(_("it is a Steam Guard code, which takusu does not support"))
        return normalize(value, label)
    if re.search(r"(^|&)key=", value, re.IGNORECASE):  # KeeOTP's: key=...&step=30&size=6
        try:
            params = {k.lower(): v for k, v in parse_qsl(value, keep_blank_values=True)}
        except ValueError:
            raise BadInput(_("the otp value is not readable")) from None
        if params.get("type", "totp").lower() != "totp":
            raise BadInput(_("only codes that change with time (TOTP) are supported, not HOTP"))
        if not params.get("key"):
            raise BadInput(_("the otp value has no key"))
        return _uri(
            label,
            params["key"],
            params.get("step") or "30",
            params.get("size") or "6",
            params.get("otphashmode", ""),
        )
    return normalize(value, label)


def _time_otp_secret(strings: dict[str, str]) -> str | None:
    """KeePass 2.47+'s TOTP secret (in one of four encodings) as base32."""
    raw: bytes | None = None
    try:
        if strings.get("TimeOtp-Secret-Base32", "").strip():
            return strings["TimeOtp-Secret-Base32"]
        if strings.get("TimeOtp-Secret-Hex", "").strip():
            raw = bytes.fromhex(strings["TimeOtp-Secret-Hex"].replace(" ", ""))
        elif strings.get("TimeOtp-Secret-Base64", "").strip():
            raw = base64.b64decode(strings["TimeOtp-Secret-Base64"], validate=True)
        elif strings.get("TimeOtp-Secret", ""):
            raw = strings["TimeOtp-Secret"].encode("utf-8")
    except (ValueError, binascii.Error):
        raise BadInput(_("the 2FA seed is not written in a form takusu can read")) from None
    if raw is None:
        return None
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _uri(label: str, secret: str, period: str, digits: str, algorithm: str) -> str:
    """An otpauth URI from separate parts, validated by vault.totp.normalize."""
    name = _ALGORITHMS.get(re.sub(r"[^A-Z0-9]", "", algorithm.upper()))
    if name is None:
        raise BadInput(_("the 2FA settings use a kind of code takusu does not support"))
    if not period.isdigit() or not digits.isdigit():
        raise BadInput(_("the period or length of the 2FA codes is not a number"))
    cleaned = re.sub(r"[\s-]", "", secret).upper().rstrip("=")
    uri = (
        f"otpauth://totp/{quote(label or 'takusu', safe='')}?secret={quote(cleaned, safe='')}"
        f"&period={int(period)}&digits={int(digits)}&algorithm={name}"
    )
    return normalize(uri, label)


# ---------------------------------------------------------------- text


def _has_bad_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in text)


def shown(text: str, limit: int = 60) -> str:
    """Text safe to print in a message: control and format characters escaped, cut short."""
    out = "".join(
        ch
        if unicodedata.category(ch) not in _BAD_CATEGORIES
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text[:limit]
    )
    return out + ("…" if len(text) > limit else "")


def _place(number: int, entry: Any, path: list[str]) -> str:
    """'entry "Bank" in Banking/Japan' (or 'entry 3 in ...' when it has no title)."""
    title = ""
    for node in entry.findall("String"):
        if node.findtext("Key") == "Title":
            title = (node.findtext("Value") or "").strip()
    group = shown("/".join(path), 120)
    if title and path:
        return _('entry "{title}" in {group}').format(title=shown(title), group=group)
    if title:
        return _('entry "{title}"').format(title=shown(title))
    if path:
        return _("entry {n} in {group}").format(n=number, group=group)
    return _("entry {n}").format(n=number)


def _host(url: str) -> str:
    try:
        return urlparse(url.strip()).hostname or ""
    except ValueError:
        return ""
