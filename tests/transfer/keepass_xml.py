"""KeePass XML documents for the tests, in the shape KeePassXC's own export has."""

from __future__ import annotations

import base64
import uuid
from xml.sax.saxutils import escape

ZERO = "AAAAAAAAAAAAAAAAAAAAAA=="


def new_uuid() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()


def entry(strings: dict[str, str], tags: str = "", protected=("Password",), extra="") -> str:
    parts = [f"<Entry><UUID>{new_uuid()}</UUID><IconID>0</IconID><Tags>{escape(tags)}</Tags>"]
    for key, value in strings.items():
        attr = ' ProtectInMemory="True"' if key in protected else ""
        parts.append(
            f"<String><Key>{escape(key)}</Key><Value{attr}>{escape(value)}</Value></String>"
        )
    parts.append(f"{extra}<AutoType><Enabled>True</Enabled></AutoType><History/></Entry>")
    return "".join(parts)


def group(name: str, *children: str, uuid_: str | None = None) -> str:
    return (
        f"<Group><UUID>{uuid_ or new_uuid()}</UUID><Name>{escape(name)}</Name><Notes/>"
        f"<IconID>48</IconID>{''.join(children)}</Group>"
    )


def document(*children: str, recycle_bin: str = ZERO, root: str = "Passwords") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<KeePassFile><Meta>'
        "<Generator>KeePassXC</Generator><DatabaseName>test</DatabaseName>"
        "<RecycleBinEnabled>True</RecycleBinEnabled>"
        f"<RecycleBinUUID>{recycle_bin}</RecycleBinUUID>"
        f"<EntryTemplatesGroup>{ZERO}</EntryTemplatesGroup><Binaries/></Meta>"
        f"<Root>{group(root, *children)}<DeletedObjects/></Root></KeePassFile>"
    ).encode()
