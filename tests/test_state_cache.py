import pytest

from tests.helpers import ok, record_calls


def test_rebuild(world):
    w = world
    ok(w.s("get", "GitHub"))
    for home in (w.client, w.secretary):
        for p in (home / "vaults").glob("*/state.json"):
            p.write_bytes(b"{garbage")
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "rebuilt" in r.err
    for home in (w.client, w.secretary):
        for p in (home / "vaults").glob("*/state.json"):
            p.unlink()
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert "OK" in ok(w.c("audit", "verify")).out
    # mirror not duplicated
    for p in (w.client / "vaults").glob("*/mirror/*.jsonl"):
        lines = p.read_bytes().splitlines()
        assert len(lines) == len(set(lines))


def test_a_cache_that_passed_once_is_checked_again_when_its_bytes_change(world):
    """A long-lived process (the agent) skips re-walking the very bytes it checked; any
    other bytes, a wrong shape in valid JSON included, are checked and rebuilt."""
    import json

    from vault.store import mirror

    w = world
    ok(w.c("list"))  # checks the cache and remembers its bytes
    (cache,) = (w.client / "vaults").glob("*/state.json")
    assert str(cache) in mirror._STATE_MEMO  # noqa: SLF001 - the memo this test is about
    doc = json.loads(cache.read_bytes())
    doc["state"]["items"] = ["not", "a", "dict"]
    cache.write_text(json.dumps(doc))
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "rebuilt" in r.err


def test_a_damaged_title_index_is_rebuilt_and_never_trusted(world):
    """index.enc is this identity's own AEAD-sealed file: garbage, a seal under another
    key, or sealed bytes that are not JSON (or not a dict) mean "rebuild", never an error
    or a wrong title."""
    from vault.crypto import aead_seal
    from vault.index import TitleIndex

    w = world
    ok(w.c("list"))
    (path,) = (w.client / "vaults").glob("*/index.enc")
    sess = w.machine(w.client).session()
    real = sess.title_index()
    assert real.entries  # the list above filled it
    for damaged in (
        b"garbage",
        aead_seal(b"k" * 32, b"{}", real.aad),
        aead_seal(real.key, b"\xff\xfe not json", real.aad),
        aead_seal(real.key, b'["a list"]', real.aad),
        aead_seal(real.key, b'{"x": ' * 100_000, real.aad),
    ):
        path.write_bytes(damaged)
        assert TitleIndex(path, real.key, real.aad).entries == {}
        listed = ok(w.c("list")).out
        assert "GitHub" in listed and "Bank" in listed
        assert TitleIndex(path, real.key, real.aad).entries  # rebuilt and saved


# --- what a long-lived process (the agent) keeps in memory between commands ---------------


def test_titles_kept_in_memory_follow_every_change_of_the_owner_log(world):
    """`find` answers from memory while the owner's log stands still; a rename (a new owner
    head) is seen by the very next command in the same process, and the old title is gone."""
    from vault.errors import NotFound

    w = world
    item_id = w.client_session().find("GitHub")
    other = w.client_session()
    payload = other.payload(item_id)
    payload["title"] = "Forge"
    other.put(item_id, payload)
    third = w.client_session()
    assert third.find("Forge") == item_id
    with pytest.raises(NotFound):
        third.find("GitHub")
    # ... and a secretary's process sees the rename too once it arrives
    assert w.secretary_session().find("Forge") == item_id


def test_a_members_titles_in_memory_end_at_her_first_expiry(world):
    """A member's readable titles depend on the time as well: the memory of them lasts
    only until the first of her grants expires, then the item is gone from `find`."""
    from datetime import UTC, datetime, timedelta

    from vault import sharing
    from vault.errors import TakusuError

    w = world
    owner = w.client_session()
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    sharing.share(owner, w.items["GitHub"], w.member_id, soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    before = w.session_at(w.secretary, soon - timedelta(minutes=1))
    assert before.find("GitHub") == w.items["GitHub"]
    after = w.session_at(w.secretary, soon + timedelta(seconds=1))
    assert "GitHub" not in after.titles().values()
    with pytest.raises(TakusuError):
        after.find("GitHub")
    # and back before the expiry (a clock set back) the memory is not trusted either
    again = w.session_at(w.secretary, soon - timedelta(minutes=2))
    assert again.find("GitHub") == w.items["GitHub"]


def test_upkeep_in_memory_still_revokes_at_the_expiry(world):
    """The owner's process remembers when upkeep next has work; at that moment it revokes
    the expired grant, in memory or not."""
    from datetime import UTC, datetime, timedelta

    from vault import sharing

    w = world
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    sharing.share(
        w.client_session(), w.items["GitHub"], w.member_id, soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    early = w.session_at(w.client, soon - timedelta(minutes=5))
    assert sharing.upkeep(early).expired == []
    assert sharing.upkeep(w.session_at(w.client, soon - timedelta(minutes=4))).expired == []
    late = w.session_at(w.client, soon + timedelta(seconds=1))
    assert sharing.upkeep(late).expired == [(w.items["GitHub"], w.member_id)]


def test_offboarding_writes_the_log_the_state_and_the_index_once(world, monkeypatch):
    """Offboarding a member who holds many items is one locked append: the owner's log is
    written once, the state cache once and the title index at most once, whatever the
    number of items (it grew with the square of it when each re-key saved both)."""
    from vault import fsutil, sharing
    from vault.item import empty_payload

    w = world
    owner = w.client_session()
    with owner.batch():
        for n in range(30):
            payload = empty_payload()
            payload.update(title=f"Extra {n}", password=f"pw-{n}")
            item_id = owner.add(payload)
            sharing.share(owner, item_id, w.member_id, None)
    from vault.session import Session

    writes = record_calls(monkeypatch, fsutil, "atomic_write", lambda path: path.name)
    appends = record_calls(monkeypatch, fsutil, "append_line", lambda path: path.parent.name)
    walks = record_calls(monkeypatch, Session, "_summaries", lambda self: 1)  # every readable item
    sess = w.client_session()
    rows = sharing.offboard(sess, "aiko")
    assert len(rows) >= 30
    assert len(walks) <= 2, len(walks)  # not one walk of every title per re-keyed item
    assert writes.count("state.json") == 1, writes
    assert writes.count("index.enc") <= 1, writes
    assert sorted(appends) == ["logs", "mirror"], appends  # the folder's log and the mirror


def test_a_state_changed_in_memory_without_forgetting_it_is_caught(world):
    """The memo of the state cache trusts that whoever changes a state it handed out forgets
    it first; the tests run with TAKUSU_CHECK_MEMO=1, which compares every hit with the
    file, so a change behind its back fails loudly instead of serving a state no file holds."""
    from vault.errors import IntegrityError
    from vault.state import empty

    store = world.store(world.client)
    st = store.mirror.load_state(empty())
    st["receipt_count"] += 1  # changed without forget_state()
    with pytest.raises(IntegrityError, match="changed a state"):
        store.mirror.load_state(empty())
    store.mirror.forget_state()
    assert store.mirror.load_state(empty())["receipt_count"] == st["receipt_count"] - 1


def _retrievals_apart(monkeypatch, at: int) -> None:
    """Keep the retrievals in retrievals.json from `at` (member, item) pairs on (the CLI
    runs in this process: tests.helpers.run)."""
    from vault.store import mirror

    monkeypatch.setattr(mirror, "RETRIEVALS_APART", at)


@pytest.mark.parametrize("apart", [False, True], ids=["retrievals-in-state", "retrievals-apart"])
def test_a_receipt_rewrites_the_small_part_of_the_state_cache_only(world, monkeypatch, apart):
    """The items (the bulk of the state: ~2.5 MB at 10,000) change only with the owner's
    events, the retrievals only with members' receipts: a receipt leaves items.json as it
    is, and an owner's edit writes items.json and state.json (items first: state.json
    names the items.json it goes with). Once the retrievals are many, they are kept in
    retrievals.json, which a receipt writes and an owner's edit does not."""
    from vault import fsutil

    w = world
    _retrievals_apart(monkeypatch, 1 if apart else 10**9)
    ok(w.s("list"))
    writes = record_calls(monkeypatch, fsutil, "atomic_write", lambda path: path.name)
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert writes == (["retrievals.json", "state.json"] if apart else ["state.json"]), writes
    writes.clear()
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    # (the owner's load first takes in her receipt; then the edit)
    taken_in = ["retrievals.json", "state.json"] if apart else ["state.json"]
    assert writes[: len(taken_in)] == taken_in, writes
    assert writes[-2:] == ["items.json", "state.json"], writes
    assert writes.count("retrievals.json") == (1 if apart else 0), writes
    writes.clear()
    ok(w.c("edit", "Bank", "--username", "another"))
    assert "retrievals.json" not in writes and writes[-1] == "state.json", writes
    assert _fresh_load(w) == _rebuilt(w)


def test_the_retrievals_move_to_their_own_file_once_they_are_many(world, monkeypatch):
    """Below RETRIEVALS_APART (member, item) pairs the retrievals stay in state.json; the
    receipt that reaches it writes them to retrievals.json, and both read back as the
    state the mirror rebuilds to."""
    import json

    w = world
    _retrievals_apart(monkeypatch, 2)
    ok(w.c("share", "Bank", "--with", "aiko"))
    ok(w.s("get", "GitHub"))
    (state_path,) = (w.secretary / "vaults").glob("*/state.json")
    seen = state_path.with_name("retrievals.json")
    doc = json.loads(state_path.read_bytes())
    assert doc["retrievals"] is None and w.items["GitHub"] in json.dumps(doc["state"]["retrievals"])
    assert not seen.exists()
    ok(w.s("get", "Bank"))
    doc = json.loads(state_path.read_bytes())
    assert isinstance(doc["retrievals"], str) and "retrievals" not in doc["state"]
    kept = json.loads(seen.read_bytes())
    assert kept["token"] == doc["retrievals"]
    assert set(kept["retrievals"][w.member_id]) == {w.items["GitHub"], w.items["Bank"]}
    for home in (w.secretary, w.client):
        ok(w.run(home, "list"))
        from vault.state import empty
        from vault.store import mirror

        mirror._STATE_MEMO.clear()  # noqa: SLF001 - as a new process
        store = w.store(home)
        assert store.mirror.load_state(empty()) == store.arrivals.rebuild(store.owner_card, [])


def test_retrievals_in_both_places_are_a_damaged_cache(world, monkeypatch):
    import json

    w = world
    _retrievals_apart(monkeypatch, 1)
    ok(w.s("get", "GitHub"))
    (state_path,) = (w.secretary / "vaults").glob("*/state.json")
    doc = json.loads(state_path.read_bytes())
    doc["state"]["retrievals"] = {}
    state_path.write_text(json.dumps(doc))
    r = ok(w.s("list"))
    assert "rebuilt" in r.err and "GitHub" in r.out


def test_a_state_cache_whose_two_halves_do_not_match_is_rebuilt(world):
    """A crash between writing items.json and state.json leaves a pair that does not
    belong together: it is rebuilt from the mirror, never mixed."""
    w = world
    ok(w.c("list"))
    (items,) = (w.client / "vaults").glob("*/items.json")
    old = items.read_bytes()
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    items.write_bytes(old)  # the old items beside the new state.json
    r = ok(w.c("list"))
    assert "rebuilt" in r.err and "someone-else" in r.out


def test_retrievals_that_do_not_belong_with_state_json_are_rebuilt_never_mixed(world, monkeypatch):
    """A crash between writing retrievals.json and state.json leaves retrievals that the
    state does not name (or none): rebuilt from the mirror, never mixed."""
    w = world
    _retrievals_apart(monkeypatch, 1)
    ok(w.s("get", "GitHub"))
    ok(w.c("list"))
    (seen,) = (w.client / "vaults").glob("*/retrievals.json")
    old = seen.read_bytes()
    ok(w.s("get", "GitHub", "--reason", "invoices"))
    ok(w.c("list"))  # the owner takes in the receipt: new retrievals.json
    assert seen.read_bytes() != old
    seen.write_bytes(old)  # the retrievals from before it, beside the new state.json
    r = ok(w.c("list"))
    assert "rebuilt" in r.err
    assert _fresh_load(w) == _rebuilt(w)
    assert _fresh_load(w)["retrievals"][w.member_id][w.items["GitHub"]]["count"] == 2
    seen.unlink()
    assert "rebuilt" in ok(w.c("list")).err
    assert _fresh_load(w) == _rebuilt(w)


def test_find_answers_from_the_title_maps_as_the_walk_did(world):
    """`find` looks a title up in maps built once per owner head; titles that only differ
    in case still go through the walk, which names the clash."""
    from vault.errors import Ambiguous

    w = world
    ok(w.c("add", "Shop", "--password-stdin", input="a\n"))
    ok(w.c("add", "shop", "--password-stdin", input="b\n"))
    sess = w.client_session()
    assert sess.payload(sess.find("Shop"))["password"] == "a"
    assert sess.payload(sess.find("shop"))["password"] == "b"
    with pytest.raises(Ambiguous):
        sess.find("SHOP")
    assert sess.payload(sess.find("githu"))["title"] == "GitHub"  # a prefix still walks


def test_the_title_index_is_rewritten_once_enough_new_versions_wait(world):
    """A new item's summary is decrypted again by the next command rather than rewriting
    the whole index for it; once 16 versions wait, or a sixteenth of the readable items,
    the index is saved with them."""
    from vault.item import empty_payload

    w = world
    owner = w.client_session()
    with owner.batch():
        for n in range(36):
            payload = empty_payload()
            payload.update(title=f"Bulk {n}", password="p")
            owner.add(payload)
    ok(w.c("list"))  # 40 readable items: saved (36 were new)
    (index,) = (w.client / "vaults").glob("*/index.enc")
    saved = index.read_bytes()
    ok(w.c("add", "New 0", "--password-stdin", input="p\n"))
    assert "New 0" in ok(w.c("list")).out
    assert index.read_bytes() == saved  # 1 waiting of 41: decrypted again, not saved
    for n in (1, 2):
        ok(w.c("add", f"New {n}", "--password-stdin", input="p\n"))
    from vault import index as index_module
    from vault import session

    index_module._MEMO.clear()  # noqa: SLF001 - a new process: (this one's memo holds New 0)
    session._READABLE.clear()  # noqa: SLF001 - (and what it can read, New 0 included)
    assert "New 2" in ok(w.c("list")).out
    assert index.read_bytes() != saved  # 3 waiting of 43 (3 x 16 >= 43): saved


@pytest.mark.parametrize("witness", [{"seq": 99, "hash": None}, {"seq": 99, "by": 1.5}])
def test_a_state_cache_with_a_malformed_witness_is_rebuilt(world, witness):
    """Found by the state-cache fuzz once the cache was split: a witness without its
    writer (or with a number for one) passed the shape check and then crashed the load."""
    import json

    w = world
    ok(w.s("get", "GitHub"))  # the owner's next load takes in a witness of her log
    ok(w.c("list"))
    (cache,) = (w.client / "vaults").glob("*/state.json")
    doc = json.loads(cache.read_bytes())
    doc["state"]["witness"] = {w.owner_id: witness}
    cache.write_text(json.dumps(doc))
    r = ok(w.c("list"))
    assert "GitHub" in r.out and "rebuilt" in r.err


# --- the items journal -------------------------------------------------------------------------


def _cache_files(home):
    (state_path,) = (home / "vaults").glob("*/state.json")
    folder = state_path.parent
    return state_path, folder / "items.json", folder / "items.journal"


def _big(world, n=30):
    """The client's vault with `n` more items, added in one command (one items.json)."""
    from vault.item import empty_payload

    owner = world.client_session()
    with owner.batch():
        for k in range(n):
            payload = empty_payload()
            payload.update(title=f"Filler {k}", password=f"p{k}")
            owner.add(payload)


def _fresh_load(world):
    """The state as a new process reads it from the files (no memo)."""
    from vault.state import empty
    from vault.store import mirror

    mirror._STATE_MEMO.clear()  # noqa: SLF001 - a new process has none
    return world.store(world.client).mirror.load_state(empty())


def _rebuilt(world):
    from vault.identity import Card

    store = world.store(world.client)
    return store.arrivals.rebuild(Card.from_envelope(store.owner_card.envelope), [])


def test_an_owner_edit_in_a_big_vault_appends_one_journal_line_not_items_json(world, monkeypatch):
    """An `add` or `edit` changes one item: it is appended to the journal (a few hundred
    bytes), not written into a new items.json (megabytes at 10,000 items); a new process
    reading items.json and the journal has the very state the mirror rebuilds to."""
    import json

    from vault import fsutil

    w = world
    _big(w)
    _state, items, journal = _cache_files(w.client)
    before = items.read_bytes()
    writes = record_calls(monkeypatch, fsutil, "atomic_write", lambda path: path.name)
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    ok(w.c("add", "Shop", "--password-stdin", input="s3cret\n"))
    assert "items.json" not in writes and "state.json" in writes, writes
    assert items.read_bytes() == before
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 2
    token = json.loads(before)["token"]
    assert all(json.loads(line)["token"] == token for line in lines)
    assert [len(json.loads(line)["items"]) for line in lines] == [1, 1]
    assert w.items["GitHub"] in json.loads(lines[0])["items"]
    loaded = _fresh_load(w)
    assert loaded == _rebuilt(w)
    assert ok(w.c("get", "Shop")).out.strip() == "s3cret"
    assert "someone-else" in ok(w.c("show", "GitHub")).out


def test_journal_bytes_that_state_json_does_not_acknowledge_are_ignored_then_cut(world):
    """A process stopped between appending to the journal and saving state.json leaves a
    line no state.json names: the state is the one before it, and the next save cuts it."""
    w = world
    _big(w)
    ok(w.c("edit", "GitHub", "--username", "first"))
    state_path, _items, journal = _cache_files(w.client)
    acknowledged = journal.read_bytes()
    journal.write_bytes(acknowledged + b'{"token":"x","items":{"torn')
    assert _fresh_load(w) == _rebuilt(w)
    r = ok(w.c("edit", "GitHub", "--username", "second"))
    assert "rebuilt" not in r.err
    data = journal.read_bytes()
    assert data.startswith(acknowledged) and b"torn" not in data
    assert data.count(b"\n") == acknowledged.count(b"\n") + 1
    assert _fresh_load(w) == _rebuilt(w)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.replace(b'"token":"', b'"token":"0', 1),  # another pair's line
        lambda data: data[:-1] + b" ",  # the acknowledged part torn
        lambda data: data[:10],  # shorter than state.json says
        # what a power cut can leave of a journal that is not fsynced (state.json is): its
        # last line lost, or the file's length kept with zeros where the bytes were
        lambda data: data[: data.rstrip(b"\n").rfind(b"\n") + 1],
        lambda data: data[:5] + bytes(len(data) - 5),
        # whole lines of the right token and length, in another order (as stale bytes past
        # LENGTH that a lost truncate left could be): state.json names the journal's digest
        lambda data: b"".join(reversed(data.splitlines(keepends=True))),
        lambda data: b"[" + data[1:],  # not JSON
    ],
)
def test_a_journal_that_does_not_belong_with_state_json_is_rebuilt_never_mixed(world, damage):
    w = world
    _big(w)
    ok(w.c("edit", "GitHub", "--username", "first"))
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    _state, _items, journal = _cache_files(w.client)
    journal.write_bytes(damage(journal.read_bytes()))
    r = ok(w.c("list"))
    assert "rebuilt" in r.err and "GitHub" in r.out
    assert "someone-else" in ok(w.c("show", "GitHub")).out


def test_the_journal_is_folded_into_a_new_items_json_before_it_outgrows_a_quarter(world):
    """Every load reads items.json and the journal: once the journal would pass a quarter
    of items.json, the items are written whole (with a new token) and the journal emptied.
    A state.json from before that, beside the new items.json, does not belong: rebuilt."""
    import json

    w = world
    _big(w, 8)
    state_path, items, journal = _cache_files(w.client)
    first = json.loads(items.read_bytes())["token"]
    old_state = state_path.read_bytes()
    sizes = []
    for k in range(40):
        ok(w.c("edit", "GitHub", "--username", f"name {k}"))
        sizes.append(journal.stat().st_size if journal.exists() else 0)
        assert sizes[-1] * 4 <= items.stat().st_size
        if json.loads(items.read_bytes())["token"] != first:
            break
    else:
        pytest.fail(f"items.json never rewritten; journal sizes {sizes}")
    assert sizes[-1] == 0 and max(sizes) > 0
    assert _fresh_load(w) == _rebuilt(w)
    state_path.write_bytes(old_state)
    r = ok(w.c("list"))
    assert "rebuilt" in r.err and "GitHub" in r.out


def test_owner_events_change_no_item_but_the_one_items_touched_names(world, monkeypatch):
    """The journal saves only the items `state.items_touched` names, and an owner's event
    does not save the retrievals at all: every owner event a vault can hold (shares whole
    and scoped, views, 2FA codes, edits, revocations, deletes, members, policies,
    requests) is applied while comparing every item, and the retrievals, before and after."""
    import copy

    from vault import state

    w = world
    ok(w.s("get", "GitHub"))  # a retrieval for the owner's later events to leave alone
    sess = w.client_session()
    from tests.test_delegation import ALL_DAY
    from vault import sharing

    sharing.share(sess, w.items["GitHub"], w.member_id, None, fields=["password"], otp=ALL_DAY)
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    ok(w.c("edit", "Bank", "--note", "branch 12"))
    ok(w.c("vault", "policy", "--require-reason", "on"))
    ok(w.c("revoke", "GitHub", "--from", "aiko"))
    ok(w.c("share", "Bank", "--with", "aiko"))
    ok(w.c("rm", "Bank", "--yes"))
    ok(w.c("member", "remove", "aiko", "--revoke-all"))
    seen: set[str] = set()
    real = state.apply_owner

    def checked(st, event):
        before = copy.deepcopy(st["items"])
        retrievals = copy.deepcopy(st["retrievals"])
        real(st, event)
        touched = state.items_touched(event)
        assert touched is not None, event.type
        changed = {k for k in st["items"] if st["items"][k] != before.get(k)}
        assert changed <= set(touched), (event.type, changed, touched)
        # and none changes the retrievals, which only members' receipts do (the owner's
        # events leave retrievals.json as it is)
        assert st["retrievals"] == retrievals, event.type
        seen.add(event.type)

    monkeypatch.setattr(state, "apply_owner", checked)
    _rebuilt(w)
    assert {"item.put", "grant", "view", "codes", "revoke", "item.delete"} <= seen, seen
    assert {"vault.create", "member.add", "member.remove", "policy"} <= seen, seen


# --- the kept listing --------------------------------------------------------------------------


def test_list_keeps_its_text_until_what_it_shows_changes(world, monkeypatch):
    """A long-lived process (the agent) lists unchanged items without building every row
    again; an owner's event, another language, another time zone or --json each build
    it anew, and a member's receipt (which changes nothing `list` shows) does not."""
    from vault import views

    monkeypatch.delenv("TAKUSU_CHECK_MEMO")  # it builds the listing on every hit as well
    w = world
    ok(w.c("share", "Bank", "--with", "aiko", "--expires", "2999-12-31"))
    built: list[int | None] = []  # how many rows each call builds (None: all of them)
    real = views.item_rows

    def counted(sess, **kw):
        rows = real(sess, **kw)
        built.append(None if kw.get("only") is None else len(rows))
        return rows

    monkeypatch.setattr(views, "item_rows", counted)
    first = ok(w.c("list")).out
    assert ok(w.c("list")).out == first and built == [2]
    ok(w.s("get", "GitHub"))  # a receipt: the owner's list stays as it was
    assert ok(w.c("list")).out == first and len(built) == 1
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    changed = ok(w.c("list")).out
    assert "someone-else" in changed and built[1:] == [1]  # the edited item's row alone
    ok(w.c("add", "Zeta", "--password-stdin", input="z\n"))
    assert "Zeta" in ok(w.c("list")).out and built[2:] == [1]
    ok(w.c("rm", "Zeta", "--yes"))
    assert ok(w.c("list")).out == changed and len(built) == 3  # (a row less: none to build)
    assert ok(w.c("list", "--json")).out.startswith("[") and built[3:] == [None]
    assert ok(w.c("list", env={"TAKUSU_LANG": "ja"})).out != changed and built[4:] == [2]
    assert ok(w.c("list")).out == changed and len(built) == 5
    utc = ok(w.s("list", env={"TZ": "UTC"})).out
    tokyo = ok(w.s("list", env={"TZ": "Asia/Tokyo"})).out
    assert utc != tokyo and ok(w.s("list", env={"TZ": "UTC"})).out == utc


def test_a_kept_listing_that_differs_from_the_vault_is_caught(world):
    """With TAKUSU_CHECK_MEMO=1 (as in every test) a hit builds the listing anyway and
    refuses a kept text that differs: a change that forgot to move the memo fails loudly."""
    from vault import session

    w = world
    ok(w.c("list"))
    memo = session._READABLE  # noqa: SLF001 - the memo this test is about
    (readable,) = [r for k, r in memo.items() if k[0].startswith(str(w.client)) and r.shown]
    readable.shown = {k: v + "\nGhost" for k, v in readable.shown.items()}
    r = w.c("list")
    assert r.code != 0 and "kept listing differs" in r.err and "Ghost" not in r.out


# --- what is readable, carried across the owner's events ---------------------------------------


def _as_built_afresh(sess):
    """What `sess` can read, built from nothing, next to what its memo carried."""
    from vault import session

    carried = sess._readable()  # noqa: SLF001 - the memo this test is about
    key = next(k for k, v in session._READABLE.items() if v is carried)  # noqa: SLF001
    del session._READABLE[key]  # noqa: SLF001
    fresh = sess._readable()  # noqa: SLF001
    return carried, fresh


def _same_view(carried, fresh):
    assert carried.summaries == fresh.summaries
    assert carried.titles == fresh.titles and carried.fold_of == fresh.fold_of
    assert carried.twice == fresh.twice and carried.folded_twice == fresh.folded_twice
    unique = lambda m, twice: {k: v for k, v in m.items() if k not in twice}  # noqa: E731
    assert unique(carried.exact, carried.twice) == unique(fresh.exact, fresh.twice)
    assert unique(carried.folded, carried.folded_twice) == unique(fresh.folded, fresh.folded_twice)
    assert carried.order == fresh.order
    assert carried.until <= fresh.until  # never later (sooner only builds it again sooner)


def test_what_is_readable_is_carried_across_item_events_as_a_fresh_build_gives(world, monkeypatch):
    """After an add, edit, rename, delete, share or revoke, a long-lived process (the agent)
    looks again at the items those events name only; what it then holds is what building
    it all afresh gives, for the owner and for a member, titles that differ only in case
    included."""
    from vault.session import _Readable

    w = world
    steps = [
        ("c", "add", "Alpha", "--password-stdin"),
        ("c", "edit", "Alpha", "--title", "Beta"),
        ("c", "add", "beta", "--password-stdin"),  # the same folded title
        ("c", "add", "Gamma", "--password-stdin"),
        ("c", "share", "Gamma", "--with", "aiko", "--expires", "2999-12-31"),
        ("c", "edit", "Gamma", "--title", "GAMMA"),
        ("c", "revoke", "GAMMA", "--from", "aiko"),
        ("c", "rm", "beta", "--yes"),
        ("c", "share", "Bank", "--with", "aiko"),
        ("c", "edit", "Bank", "--username", "teller"),
    ]
    advanced = record_calls(monkeypatch, _Readable, "changed", lambda memo: memo.head)
    for who, *args in steps:
        run = w.c if who == "c" else w.s
        stdin = "pw\n" if "--password-stdin" in args else None
        ok(run(*args, input=stdin))
        for sess in (w.client_session(), w.secretary_session()):
            _same_view(*_as_built_afresh(sess))
            sess._readable()  # noqa: SLF001 - a memo at this head for the next step
    assert len(advanced) >= len(steps), advanced  # the carried path, not a rebuild each time


def test_a_refused_owner_grant_leaves_no_part_of_itself_in_the_state_cache(world):
    """Found by review: a scoped grant over a whole one, with a malformed request id, used
    to mark the item exposed before the request check refused it; with a receipt arriving
    in the same load, the journal then saved an item no rebuild from the mirror gives."""
    from vault import fsutil
    from vault.clock import now_utc
    from vault.events import make_event

    w = world
    ok(w.c("list"))
    st = w.store(w.client).load().state
    ok(w.s("get", "GitHub"))  # her receipt waits in the folder for the owner's next load
    head, github = st["heads"][w.owner_id], w.items["GitHub"]
    body = {
        "item": github,
        "version": st["items"][github]["version"],
        "member": w.member_id,
        "scope": {"fields": ["username"]},
        "request": "not a request id",
        "expires": None,
        "seen": {},
    }
    event = make_event(
        w.identity(w.client), w.vault_id, head["seq"] + 1, head["hash"], now_utc(), "grant", body
    )
    fsutil.append_line(w.log(w.owner_id), event.line)
    w.c("list")  # reports the refused event; takes in the receipt and saves
    assert _fresh_load(w) == _rebuilt(w)
    assert _rebuilt(w)["items"][github]["exposed"] == {}


def test_a_readable_memo_from_another_log_at_the_same_place_is_built_again(world):
    """What an identity can read is kept by the mirror's place: a memo whose owner log
    was longer than the one now there (a vault made again at the same place, as the long
    sync fuzz does) is built again, not read past the log's end. Found by that fuzz."""
    from vault import session as session_module

    w = world
    sess = w.client_session()
    sess.find("GitHub")
    memo = session_module._READABLE[(str(sess.store.mirror.local), sess.me.id)]  # noqa: SLF001
    head = sess.state["heads"][sess.owner_id]
    memo.at = (head["seq"], head["size"] + 4096)
    ok(w.c("add", "Shop", "--password-stdin", input="s3cret\n"))
    assert ok(w.c("get", "Shop")).out.strip() == "s3cret"
    assert "Shop" in w.client_session().titles().values()
