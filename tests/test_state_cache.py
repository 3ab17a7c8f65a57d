import pytest

from tests.helpers import ok


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


def _calls(monkeypatch, owner, name, label):
    """From now on, `label(first argument)` of every call of `owner.name`, in order (the
    call itself still happens)."""
    seen = []
    real = getattr(owner, name)

    def recorded(first, *args, **kwargs):
        seen.append(label(first))
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return seen


def _session_at(w, home, when):
    """A session of `home` (a new command) whose clock reads `when`."""
    from tests.world import machine

    m = machine(home, w.key_mode, w.keyring)
    m.clock = lambda: when
    return m.session("acme")


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
    before = _session_at(w, w.secretary, soon - timedelta(minutes=1))
    assert before.find("GitHub") == w.items["GitHub"]
    after = _session_at(w, w.secretary, soon + timedelta(seconds=1))
    assert "GitHub" not in after.titles().values()
    with pytest.raises(TakusuError):
        after.find("GitHub")
    # and back before the expiry (a clock set back) the memory is not trusted either
    again = _session_at(w, w.secretary, soon - timedelta(minutes=2))
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
    early = _session_at(w, w.client, soon - timedelta(minutes=5))
    assert sharing.upkeep(early).expired == []
    assert sharing.upkeep(_session_at(w, w.client, soon - timedelta(minutes=4))).expired == []
    late = _session_at(w, w.client, soon + timedelta(seconds=1))
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

    writes = _calls(monkeypatch, fsutil, "atomic_write", lambda path: path.name)
    appends = _calls(monkeypatch, fsutil, "append_line", lambda path: path.parent.name)
    walks = _calls(monkeypatch, Session, "_summaries", lambda self: 1)  # every readable item
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


def test_a_receipt_rewrites_the_small_part_of_the_state_cache_only(world, monkeypatch):
    """The items (the bulk of the state: ~2.5 MB at 10,000) change only with the owner's
    events; a member's receipt saves state.json and leaves items.json as it is, while an
    owner's edit writes both (items first: state.json names the items.json it goes with)."""
    from vault import fsutil

    w = world
    ok(w.s("list"))
    writes = _calls(monkeypatch, fsutil, "atomic_write", lambda path: path.name)
    assert ok(w.s("get", "GitHub")).out.strip() == w.password
    assert "state.json" in writes and "items.json" not in writes, writes
    writes.clear()
    ok(w.c("edit", "GitHub", "--username", "someone-else"))
    # (the owner's load first takes in her receipt: state.json alone; then the edit)
    assert writes[0] == "state.json" and writes[-2:] == ["items.json", "state.json"], writes


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

    index_module._MEMO.clear()  # noqa: SLF001 - a new process: (this one's memo holds New 0)
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
