"""What a command started afresh (no agent) reads of a big vault: the finder (finder.enc)
instead of the title maps, and when the owner's upkeep next has work (quiet.json) instead
of a walk of every item. Each is a cache: missing, damaged, stale or in doubt, the command
does what it did without it, and writes it again."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import ok, record_calls


def _fresh() -> None:
    """Forget what this process keeps between commands, as a new process would have."""
    from vault import index, session, sharing
    from vault.store import mirror

    session._READABLE.clear()  # noqa: SLF001 - the memos a fresh process lacks
    session._VAULT_KEYS.clear()  # noqa: SLF001
    index._MEMO.clear()  # noqa: SLF001
    index._READ.clear()  # noqa: SLF001
    mirror._STATE_MEMO.clear()  # noqa: SLF001
    sharing._QUIET.clear()  # noqa: SLF001


def _no_title_maps(monkeypatch) -> None:
    """From now on, building the title maps fails the test."""
    from vault.session import Session

    def refused(self):
        pytest.fail("the title maps were built")

    monkeypatch.setattr(Session, "_summaries", refused)


def _finder(w, home):
    (path,) = (home / "vaults").glob("*/finder.enc")
    return path


def test_a_fresh_command_finds_a_title_in_the_finder(world, monkeypatch):
    """The first command builds the title maps and writes the finder; the next one,
    started afresh, finds the title (exact, or folded) without building them."""
    w = world
    _fresh()
    assert w.client_session().find("GitHub") == w.items["GitHub"]
    assert _finder(w, w.client).exists()
    _fresh()
    assert w.secretary_session().find("GitHub") == w.items["GitHub"]  # hers, on her machine
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")  # it builds the maps on every hit as well
    _fresh()
    _no_title_maps(monkeypatch)
    assert w.client_session().find("GitHub") == w.items["GitHub"]
    _fresh()
    assert w.client_session().find("github") == w.items["GitHub"]
    _fresh()
    assert w.secretary_session().find("GitHub") == w.items["GitHub"]


def test_a_finder_of_another_owner_head_is_not_used_and_is_written_again(world):
    """After a rename (a new owner head), the old title is not found through the old
    finder, the new one is, and the finder is written for the new head."""
    from vault.errors import NotFound

    w = world
    _fresh()
    w.client_session().find("GitHub")
    before = _finder(w, w.client).read_bytes()
    owner = w.client_session()
    payload = owner.payload(w.items["GitHub"])
    payload["title"] = "Forge"
    owner.put(w.items["GitHub"], payload)
    _fresh()
    with pytest.raises(NotFound):
        w.client_session().find("GitHub")
    assert _finder(w, w.client).read_bytes() != before
    _fresh()
    assert w.client_session().find("Forge") == w.items["GitHub"]


def test_a_damaged_finder_is_rebuilt_and_never_trusted(world, monkeypatch):
    """Garbage, a seal under another key, or a sealed text without its header: the title
    is found from the vault, and the finder written again."""
    from vault import labels
    from vault.crypto import aead_seal

    w = world
    _fresh()
    w.client_session().find("Bank")
    path = _finder(w, w.client)
    sess = w.client_session()
    key, context = sess._local_key()  # noqa: SLF001 - the finder's own key
    aad = labels.FINDER_AAD + context
    for damaged in (
        b"garbage",
        aead_seal(b"k" * 32, path.read_bytes(), aad),
        aead_seal(key, b"not a header\nEGitHub\t" + w.items["Bank"].encode() + b"\n", aad),
        aead_seal(key, b'{"head": 1}\nEGitHub\t' + w.items["Bank"].encode() + b"\n", aad),
    ):
        path.write_bytes(damaged)
        _fresh()
        assert w.client_session().find("GitHub") == w.items["GitHub"]
        assert path.read_bytes() != damaged  # written again


def test_a_finder_naming_an_item_that_is_not_readable_is_not_believed(world, monkeypatch):
    """Even a finder sealed under the right key, at the right head, answers only for an
    item the state says is readable now: a deleted item is a question for the full build
    (and a finder that differs from it is refused where TAKUSU_CHECK_MEMO=1)."""
    from vault import index, labels
    from vault.errors import IntegrityError, NotFound

    w = world
    owner = w.client_session()
    owner.remove(w.items["Bank"])
    _fresh()
    sess = w.client_session()
    key, context = sess._local_key()  # noqa: SLF001 - the finder's own key
    head = sess.state["heads"][sess.owner_id]["hash"]
    header = {"head": head, "built": "2000-01-01T00:00:00+00:00", "until": None}
    lines = index.finder_lines(header, {"Bank": w.items["Bank"], "Shop": w.items["GitHub"]}, {})
    path = sess._finder_path  # noqa: SLF001 - where the finder is
    index.save_finder(path, key, labels.FINDER_AAD + context, lines)
    _fresh()
    with pytest.raises(NotFound):
        w.client_session().find("Bank")
    index.save_finder(path, key, labels.FINDER_AAD + context, lines)
    _fresh()
    with pytest.raises(IntegrityError, match="finder differs"):
        w.client_session().find("Shop")


def test_ambiguous_and_odd_titles_go_to_the_full_build(world):
    """Two items whose titles differ only in case: the finder holds that the folded title
    is not one item's alone, and `find` says which items match, as it always did. A title
    with a tab in it is not in the finder and is found all the same."""
    from vault import index
    from vault.errors import Ambiguous
    from vault.item import empty_payload

    w = world
    owner = w.client_session()
    payload = empty_payload()
    payload.update(title="BANK", password="pw-second")
    owner.add(payload)
    _fresh()
    with pytest.raises(Ambiguous):
        w.client_session().find("bank")
    _fresh()
    with pytest.raises(Ambiguous):
        w.client_session().find("bank")  # through the finder this time
    _fresh()
    assert w.client_session().find("BANK") != w.items["Bank"]  # exact: one item's alone
    # a title with a tab or a line break (refused when added, but an owner's modified
    # client could write one) is left out of the finder, and never found in it
    plain = index.finder_lines({}, {"Tab\there": "a" * 32, "Line\nbreak": "b" * 32}, {})
    assert plain == b"{}\n"
    assert (
        index.finder_lookup(plain + b"ETab\there\t" + b"c" * 32 + b"\n", "E", "Tab\there") is None
    )


def test_a_members_finder_ends_at_her_first_expiry(world):
    """A member's finder is built for the span her grants allow: after the first expiry,
    or with the clock set back before it was built, it is not used."""
    from vault import sharing
    from vault.errors import TakusuError

    w = world
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    sharing.share(
        w.client_session(), w.items["GitHub"], w.member_id, soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    _fresh()
    assert w.session_at(w.secretary, soon - timedelta(minutes=5)).find("GitHub")
    _fresh()
    with pytest.raises(TakusuError):
        w.session_at(w.secretary, soon + timedelta(seconds=1)).find("GitHub")
    _fresh()
    assert w.session_at(w.secretary, soon - timedelta(minutes=10)).find("GitHub")


def test_the_cli_answers_the_same_with_and_without_the_finder(world):
    """Through the command line: the same value, the same error and exit code."""
    w = world
    for _ in range(2):
        assert ok(w.s("get", "GitHub")).out.strip() == w.password
        missing = w.s("get", "Nothing here")
        assert missing.code != 0 and "Nothing here" in missing.err


def _count_walks(monkeypatch) -> list[object]:
    """From now on, which items each upkeep walk looks at (None: every item)."""
    from vault import sharing

    walks: list[object] = []
    real = sharing._due  # noqa: SLF001 - the walk this counts

    def counting(session, now, only=None):
        walks.append(None if only is None else sorted(only))
        return real(session, now, only)

    monkeypatch.setattr(sharing, "_due", counting)
    return walks


def test_upkeep_carried_across_item_events_looks_only_at_those_items(world, monkeypatch):
    """After an `add` or a share, upkeep in the same process looks only at the items those
    events changed, not at every item; a share that expires ends the quiet spell at its
    expiry, when the grant is revoked; a member's event (not an item's) walks them all."""
    from vault import delegation, sharing
    from vault.item import empty_payload

    w = world
    walks = _count_walks(monkeypatch)
    now = datetime.now(UTC).replace(microsecond=0)
    sharing.upkeep(w.session_at(w.client, now))
    walks.clear()
    soon = now + timedelta(hours=1)
    shop = empty_payload()
    shop.update(title="Shop", password="pw")
    new_id = w.client_session().add(shop)
    sharing.share(
        w.client_session(), w.items["GitHub"], w.member_id, soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert sharing.upkeep(w.session_at(w.client, now + timedelta(minutes=1))).expired == []
    moved = walks[-1]
    assert moved is not None and new_id in moved and w.items["GitHub"] in moved, walks
    walks.clear()
    assert sharing.upkeep(w.session_at(w.client, soon - timedelta(minutes=1))).expired == []
    assert walks == [], walks  # quiet until the expiry, which the carry brought forward
    late = w.session_at(w.client, soon + timedelta(seconds=1))
    assert sharing.upkeep(late).expired == [(w.items["GitHub"], w.member_id)]
    assert None in walks  # the expiry itself: every item looked at again
    walks.clear()
    delegation.set_policy(w.client_session(), True, None, None)  # an owner event naming no item
    sharing.upkeep(w.session_at(w.client, soon + timedelta(minutes=2)))
    assert walks and walks[0] is None, walks


def test_a_fresh_command_reads_when_upkeep_next_has_work(world, monkeypatch):
    """The owner's first command walks every item once and writes down until when nothing
    falls due; the next command, started afresh, reads that instead of walking; after an
    `add` elsewhere it looks only at the added item; at an expiry it revokes, as always."""
    from vault import sharing
    from vault.item import empty_payload

    w = world
    walks = _count_walks(monkeypatch)
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(hours=1)
    sharing.share(
        w.client_session(), w.items["GitHub"], w.member_id, soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    _fresh()
    sharing.upkeep(w.session_at(w.client, now))
    assert None in walks
    (path,) = (w.client / "vaults").glob("*/quiet.json")
    walks.clear()
    _fresh()
    assert sharing.upkeep(w.session_at(w.client, now + timedelta(minutes=1))).expired == []
    assert walks == []
    payload = empty_payload()
    payload.update(title="Shop", password="pw")
    new_id = w.client_session().add(payload)
    _fresh()
    sharing.upkeep(w.session_at(w.client, now + timedelta(minutes=2)))
    assert walks == [[new_id]], walks
    walks.clear()
    _fresh()
    late = w.session_at(w.client, soon + timedelta(seconds=1))
    assert sharing.upkeep(late).expired == [(w.items["GitHub"], w.member_id)]
    assert None in walks
    assert path.exists()


@pytest.mark.parametrize(
    "damage",
    [
        {"label": "takusu/quiet/v0"},
        {"seq": "1"},
        {"size": None},
        {"since": "2000-01-01T00:00:00"},  # no zone
        {"until": "soon"},
        {"head": None},
    ],
)
def test_a_damaged_quiet_file_means_a_walk_of_every_item(world, monkeypatch, damage):
    """At the very head it was written for, a quiet.json with anything unexpected in it
    is not believed (and garbage neither): every item is walked, and it is written again."""
    import json

    from vault import sharing

    w = world
    _fresh()
    sharing.upkeep(w.client_session())
    (path,) = (w.client / "vaults").glob("*/quiet.json")
    doc = json.loads(path.read_bytes())
    for written in (json.dumps({**doc, **damage}).encode(), b"garbage"):
        path.write_bytes(written)
        walks = _count_walks(monkeypatch)
        _fresh()
        sharing.upkeep(w.client_session())
        assert walks and walks[0] is None, walks
        assert path.read_bytes() != written  # written again


# --- items.json, read an item at a time -----------------------------------------------------


def _items_json(home):
    (path,) = (home / "vaults").glob("*/items.json")
    return path


def _write_with_digest(home, changed: bytes) -> None:
    """items.json replaced by `changed`, and state.json made to name its digest."""
    import hashlib
    import json

    _items_json(home).write_bytes(changed)
    (state_path,) = (home / "vaults").glob("*/state.json")
    doc = json.loads(state_path.read_bytes())
    doc["digest"] = hashlib.sha256(changed).hexdigest()
    state_path.write_text(json.dumps(doc))


def test_a_fresh_get_parses_only_the_items_it_needs(world, monkeypatch):
    """A command started afresh takes the one item it shows out of items.json; the other
    items stay unparsed, but for those its journal carries (a `list`, which walks them,
    parses them all)."""
    import json

    from vault.state import LazyItems

    w = world
    for n in range(20):
        ok(w.c("add", f"Extra {n}", "--password-stdin", input=f"pw-{n}\n"))
    _fresh()
    ok(w.c("get", "Bank"))  # afresh: the finder and the quiet spell written down
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")  # it parses the whole cache on every hit
    walked: list[int] = []
    real = LazyItems._all  # noqa: SLF001 - what this test counts

    def counting(self):
        walked.append(self._left)  # noqa: SLF001
        real(self)

    monkeypatch.setattr(LazyItems, "_all", counting)
    _fresh()
    sess = w.client_session()
    item_id = sess.find("Bank")
    assert sess.payload(item_id)["password"] == "bank-secret-canary"
    items = sess.state["items"]
    assert isinstance(items, LazyItems) and not [n for n in walked if n], walked
    (journal,) = (w.client / "vaults").glob("*/items.journal")
    journaled = {i for line in journal.read_bytes().splitlines() for i in json.loads(line)["items"]}
    parsed = {i for i, v in dict.items(items) if type(v) is not bytes}  # the others: lines
    assert parsed <= journaled | {item_id}, "more items parsed than asked for"
    assert len(parsed) < len(items) == 22
    _fresh()
    listed = ok(w.c("list")).out
    assert "Extra 19" in listed and any(walked)


@pytest.mark.parametrize("how", ["a byte", "compact JSON"])
def test_an_items_json_other_than_the_one_written_is_rebuilt(world, how):
    """items.json must have the SHA-256 state.json names, and the layout takusu writes
    (one item per line): a flipped byte, or the same items written another way (with a
    matching digest), are rebuilt from the mirror, never used."""
    import json

    w = world
    ok(w.c("list"))
    path = _items_json(w.client)
    raw = path.read_bytes()
    if how == "a byte":
        at = raw.index(b'"version":') + 10
        path.write_bytes(raw[:at] + b"7" + raw[at + 1 :])
    else:
        _write_with_digest(w.client, json.dumps(json.loads(raw), separators=(",", ":")).encode())
    _fresh()
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "Bank" in r.out and "rebuilt" in r.err
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert ok(w.c("get", "Bank")).out.strip() == "bank-secret-canary"


def _damage_a_line(home, item_id: str, how: str) -> None:
    """Damage the items.json line of `item_id`, and make state.json name the new digest
    (as only someone who writes both files could)."""
    path = _items_json(home)
    lines = path.read_bytes().split(b"\n")
    at = next(n for n, line in enumerate(lines) if line.startswith(b'"' + item_id.encode()))
    if how == "a line cut":
        lines[at] = lines[at][:40] + b"}" + (b"," if lines[at].endswith(b",") else b"")
        changed = b"\n".join(lines)
    elif how == "a wrong shape":
        lines[at] = lines[at].replace(b'"deleted":false', b'"deleted":0')
        changed = b"\n".join(lines)
    elif how == "its framing":
        lines[at] = lines[at][:33] + b'"=' + lines[at][35:]
        changed = b"\n".join(lines)
    else:  # its line joined with the next item's (the file's last line stays `}}`)
        if at == len(lines) - 2:
            at -= 1  # the last item's line: join the one before it with it
        changed = b"\n".join(lines[: at + 1]) + b"\n".join(lines[at + 1 :])
    _write_with_digest(home, changed)


@pytest.mark.parametrize("command", ["get", "list"])
@pytest.mark.parametrize("how", ["a line cut", "a wrong shape", "its framing", "lines joined"])
def test_a_damaged_item_line_behind_a_matching_digest_is_never_used(world, how, command):
    """Only bytes with the digest state.json names are read lazily; should an item line
    still not parse or check (someone wrote both files), the command that meets it (`get`
    reads that one line, `list` all of them) stops with an error naming the file, the
    cache is forgotten, and the next command rebuilds it from the mirror."""
    w = world
    ok(w.c("list"))
    _fresh()
    ok(w.c("get", "Bank"))  # afresh: the finder written, so a fresh `get` reads one line
    _damage_a_line(w.client, w.items["Bank"], how)
    _fresh()
    r = w.c(*(["get", "Bank"] if command == "get" else ["list"]))
    assert r.code == 3 and str(_items_json(w.client)) in r.err and "run the command again" in r.err
    assert "Traceback" not in r.err and len(r.err.splitlines()) == 2, r  # the error, the hint
    _fresh()
    listed = ok(w.c("list")).out
    assert "Bank" in listed and "GitHub" in listed
    assert ok(w.c("get", "Bank")).out.strip() == "bank-secret-canary"


def test_a_damaged_item_line_met_by_an_arriving_event_is_rebuilt_not_blamed_on_a_log(world):
    """An owner's edit arriving on the secretary's machine asks her cache for that item:
    a damaged line there is her machine's own cache, rebuilt from the mirror, and not a
    tampered owner log (which would be fatal)."""
    w = world
    ok(w.s("get", "GitHub"))
    _damage_a_line(w.secretary, w.items["GitHub"], "a wrong shape")
    owner = w.client_session()
    payload = owner.payload(w.items["GitHub"])
    payload["username"] = "acme-admin-2"
    owner.put(w.items["GitHub"], payload)
    _fresh()
    sess = w.secretary_session()
    assert not [p for p in sess.loaded.problems if p.fatal], sess.loaded.problems
    assert any("rebuilt" in p.message for p in sess.loaded.problems), sess.loaded.problems
    assert sess.payload(w.items["GitHub"])["username"] == "acme-admin-2"


def test_lazy_items_behave_as_the_dict_they_stand_for():
    """Any sequence of the operations the state's code uses gives what a plain dict gives,
    whichever items were parsed before."""
    import json
    import random

    from vault.encoding import dumps
    from vault.state import LazyItems

    def item(n):
        return {
            "version": n,
            "grants": {},
            "exposed": {},
            "deleted": False,
            "key_commit": f"k{n}",
            "put_ref": [n, 1],
        }

    rng = random.Random(7)
    for _round in range(200):
        plain = {f"{n:032x}": item(n) for n in range(rng.randrange(0, 6))}
        lines = {k: f'"{k}":{json.dumps(v)}'.encode() for k, v in plain.items()}
        lazy = LazyItems(lines, json.loads, lambda: AssertionError("damaged"))
        for _step in range(rng.randrange(1, 12)):
            key = f"{rng.randrange(0, 8):032x}"
            op = rng.choice(
                ["get", "getitem", "in", "len", "set", "del", "pop", "update", "setdefault"]
            )
            if op == "get":
                assert lazy.get(key) == plain.get(key)
            elif op == "getitem":
                assert (key in plain and lazy[key] == plain[key]) or key not in lazy
            elif op == "in":
                assert (key in lazy) == (key in plain)
            elif op == "len":
                assert len(lazy) == len(plain) and bool(lazy) == bool(plain)
            elif op == "set":
                lazy[key] = plain[key] = item(99)
            elif op == "del" and key in plain:
                del lazy[key]
                del plain[key]
            elif op == "pop":
                assert lazy.pop(key, None) == plain.pop(key, None)
            elif op == "update":
                lazy.update({key: item(50)})
                plain.update({key: item(50)})
            elif op == "setdefault":
                assert lazy.setdefault(key, item(60)) == plain.setdefault(key, item(60))
        assert sorted(lazy) == sorted(plain)
        assert lazy == plain and plain == lazy and not (lazy != plain)
        assert dict(lazy) == plain and {**lazy} == plain and lazy.copy() == plain
        assert json.loads(json.dumps(lazy, sort_keys=True)) == plain
        assert json.loads(json.dumps(lazy)) == plain and json.loads(dumps(lazy)) == plain
        assert sorted(lazy.items()) == sorted(plain.items())
    # reaching past its methods to the dict's own storage meets bytes, never a missing key
    lazy = LazyItems(
        {"a" * 32: b'"' + b"a" * 32 + b'":' + json.dumps(item(1)).encode()},
        json.loads,
        lambda: AssertionError("damaged"),
    )
    assert dict.__contains__(lazy, "a" * 32) and type(dict.get(lazy, "a" * 32)) is bytes
    assert len(dict.copy(lazy)) == 1
    for encode in (json.dumps, dumps):  # nothing parsed yet: the encoders parse them all
        fresh = LazyItems(
            {"a" * 32: b'"' + b"a" * 32 + b'":' + json.dumps(item(1)).encode()},
            json.loads,
            lambda: AssertionError("damaged"),
        )
        assert json.loads(encode(fresh)) == {"a" * 32: item(1)}


def test_a_long_lived_process_reads_items_json_again_only_when_it_is_another_file(
    world, monkeypatch
):
    """The agent does not read megabytes of items.json on every command to see that they
    are the ones it holds: the same file (device, inode, size, time) as it read or wrote,
    beside the very state.json it read, is taken as is. Another file there is read, and a
    damaged one rebuilt."""
    import os

    from vault.store.mirror import Mirror

    w = world
    ok(w.c("list"))
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")  # it reads every file on every hit as well
    reads: list[str] = []
    real = Mirror._read_or_none  # noqa: SLF001 - what this test counts

    def counting(path):
        reads.append(path.name)
        return real(path)

    monkeypatch.setattr(Mirror, "_read_or_none", staticmethod(counting))
    assert ok(w.c("get", "Bank")).out.strip() == "bank-secret-canary"
    assert "items.json" not in reads, reads
    path = _items_json(w.client)
    other = path.with_name("other.json")
    other.write_bytes(path.read_bytes())
    os.replace(other, path)  # the same bytes in another file: read, and taken
    r = ok(w.c("get", "Bank"))
    assert "items.json" in reads and "rebuilt" not in r.err
    reads.clear()
    other.write_bytes(b"garbage")
    os.replace(other, path)
    r = ok(w.c("list"))
    assert "items.json" in reads and "rebuilt" in r.err and "Bank" in r.out


# --- the sealed files a long-lived process keeps ---------------------------------------------


def _index(home):
    (path,) = (home / "vaults").glob("*/index.enc")
    return path


def _whole_reads(monkeypatch) -> list[str]:
    """From now on, the file of every whole read (fsutil.read_all), in order."""
    import os

    from vault import fsutil

    return record_calls(
        monkeypatch, fsutil, "read_all", lambda fd: os.readlink(f"/proc/self/fd/{fd}")
    )


def test_a_long_lived_process_reads_the_index_again_only_when_another_file_is_there(
    world, monkeypatch
):
    """The agent asks for index.enc twice per command: while the file there is as long as
    the bytes it read or saved, and begins and ends as they do (nonce, tag), it is not read
    again. Sealed again by another process (same length, a new nonce), it is."""
    from vault import crypto, fsutil, index, labels

    w = world
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")  # it reads the file every time as well
    _fresh()
    sess = w.client_session()
    assert sess.find("GitHub") == w.items["GitHub"]
    path = _index(w.client)
    reads = _whole_reads(monkeypatch)
    assert index.read_sealed(path) == path.read_bytes()
    again = w.client_session()
    assert again.find("GitHub") == w.items["GitHub"] and again.titles()
    ok(w.c("edit", "GitHub", "--username", "someone-else"))  # a new owner head: looked at again
    assert "someone-else" in ok(w.c("show", "GitHub")).out
    assert reads.count(str(path)) == 0
    old = path.read_bytes()
    key, context = sess._local_key()  # noqa: SLF001 - the index's own key
    aad = labels.INDEX_AAD + context
    resealed = crypto.aead_seal(key, crypto.aead_open(key, old, aad), aad)
    assert len(resealed) == len(old) and resealed != old
    fsutil.atomic_write(path, resealed)  # as another process saves it
    assert index.read_sealed(path) == resealed
    assert reads.count(str(path)) == 1
    assert index.read_sealed(path) == resealed and reads.count(str(path)) == 1


def test_a_file_that_only_passes_for_the_kept_index_is_never_used(world, monkeypatch):
    """Bytes changed in place between the nonce and the tag (same length) pass for the kept
    ones: the process goes on with what opened under its key, never the changed bytes, and
    TAKUSU_CHECK_MEMO=1 (every test run) refuses it. A fresh process reads the file, finds
    it does not open, and builds the index again."""
    from vault import index
    from vault.errors import KeptDiffers

    w = world
    _fresh()
    assert w.client_session().find("GitHub") == w.items["GitHub"]
    path = _index(w.client)
    kept = path.read_bytes()
    middle = len(kept) // 2
    changed = kept[:middle] + bytes([kept[middle] ^ 1]) + kept[middle + 1 :]
    with open(path, "r+b") as f:  # in place: the same length, nonce and tag
        f.write(changed)
    with pytest.raises(KeptDiffers):
        index.read_sealed(path)
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")
    assert index.read_sealed(path) == kept
    assert w.client_session().find("GitHub") == w.items["GitHub"]
    _fresh()
    assert index.read_sealed(path) == changed
    assert "GitHub" in w.client_session().titles().values()
    assert path.read_bytes() != changed  # built and saved again


def test_a_long_lived_process_opens_the_owners_vault_key_once(world, monkeypatch):
    """The agent opens the owner's vault key once (an HPKE decryption per command before),
    by its wrap: a kept key that differs from what the wrap holds is refused under
    TAKUSU_CHECK_MEMO=1 (every test run)."""
    from vault import envelope, session
    from vault.errors import KeptDiffers

    w = world
    _fresh()
    monkeypatch.delenv("TAKUSU_CHECK_MEMO")
    opened = record_calls(monkeypatch, envelope, "open_vault_key", lambda vault_id: vault_id)
    first = w.client_session().vault_key()
    assert w.client_session().vault_key() == first and len(opened) == 1
    assert ok(w.c("get", "GitHub")).out.strip() == w.password
    monkeypatch.setenv("TAKUSU_CHECK_MEMO", "1")
    (kept,) = session._VAULT_KEYS  # noqa: SLF001
    session._VAULT_KEYS[kept] = bytes(len(first))  # noqa: SLF001
    with pytest.raises(KeptDiffers):
        w.client_session().vault_key()
