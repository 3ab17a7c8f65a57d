"""A KDBX 3.1 file built by hand, as KeePass 2.x writes one when no KDBX 4 feature is needed
(keepassxc-cli 2.7.4 only writes 4.x). The tests check KeePassXC opens it before using it.

Layout (KeePass's KdbxFile.cs): signatures, version 3.1, header fields (id u8, size u16),
then AES-256-CBC over stream-start bytes + a hashed block stream of the gzipped XML, whose
protected values are XORed with a Salsa20 stream keyed by SHA-256(protected stream key)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import struct

from Cryptodome.Cipher import AES, Salsa20
from Cryptodome.Util.Padding import pad

AES_CIPHER = bytes.fromhex("31c1f2e6bf714350be5805216afc5aff")
SALSA20_NONCE = bytes.fromhex("e830094b97205d2a")


def build(xml: bytes, password: str, rounds: int = 6000) -> bytes:
    master_seed, transform_seed, iv = os.urandom(32), os.urandom(32), os.urandom(16)
    stream_key, start_bytes = os.urandom(32), os.urandom(32)
    fields = [
        (2, AES_CIPHER),
        (3, struct.pack("<I", 1)),  # gzip
        (4, master_seed),
        (5, transform_seed),
        (6, struct.pack("<Q", rounds)),
        (7, iv),
        (8, stream_key),
        (9, start_bytes),
        (10, struct.pack("<I", 2)),  # Salsa20
        (0, b"\r\n\r\n"),
    ]
    header = struct.pack("<IIHH", 0x9AA2D903, 0xB54BFB67, 1, 3)
    header += b"".join(struct.pack("<BH", i, len(v)) + v for i, v in fields)

    xml = xml.replace(
        b"<Meta>", b"<Meta><HeaderHash>" + base64.b64encode(hashlib.sha256(header).digest())
        + b"</HeaderHash>", 1,
    )  # fmt: skip
    xml = protect(xml, stream_key)

    composite = hashlib.sha256(hashlib.sha256(password.encode()).digest()).digest()
    ecb = AES.new(transform_seed, AES.MODE_ECB)
    key = composite
    for _ in range(rounds):
        key = ecb.encrypt(key)
    master = hashlib.sha256(master_seed + hashlib.sha256(key).digest()).digest()

    body = gzip.compress(xml)
    blocks = struct.pack("<I", 0) + hashlib.sha256(body).digest() + struct.pack("<I", len(body))
    blocks += body + struct.pack("<I", 1) + bytes(32) + struct.pack("<I", 0)
    cipher = AES.new(master, AES.MODE_CBC, iv)
    return header + cipher.encrypt(pad(start_bytes + blocks, 16))


def protect(xml: bytes, stream_key: bytes) -> bytes:
    """Encrypt every <Value Protected="True"> in document order with one Salsa20 stream."""
    stream = Salsa20.new(key=hashlib.sha256(stream_key).digest(), nonce=SALSA20_NONCE)

    def one(match: re.Match[bytes]) -> bytes:
        plain = unescape(match.group(2))
        return match.group(1) + base64.b64encode(stream.encrypt(plain)) + match.group(3)

    return re.sub(rb'(<Value Protected="True">)(.*?)(</Value>)', one, xml, flags=re.S)


def unescape(text: bytes) -> bytes:
    for entity, char in ((b"&lt;", b"<"), (b"&gt;", b">"), (b"&quot;", b'"'), (b"&amp;", b"&")):
        text = text.replace(entity, char)
    return text
