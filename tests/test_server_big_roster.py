"""A directory whose rosters pass one frame: a thousand users with e-mail addresses as uids.

Each user's roster names every other user as a contact; the login response, the roster
notice and the presence sync must each fit one frame (PROTOCOL.md 1.1) and carry the
groups and as many contacts as fit, the same contacts in all three.
"""

from __future__ import annotations

import pytest

from app.protocol.limits import MAX_FRAME
from app.protocol.messages import LoginResult, Message, RosterEntry, RosterNotice
from app.protocol.xmlcodec import decode_message, encode_message
from app.server import Directory, ServerSettings, ServerState
from app.server.frame_fit import LOGIN_HEADROOM
from app.server.state import fit_one_frame

USERS = 1200


def big_directory(users: int = USERS) -> Directory:
    lines = ['[server]', 'auth = "token"']
    uids = [f"firstname.lastname{n:04d}@example.org" for n in range(users)]
    for uid in uids:
        lines += ["[[users]]", f'uid = "{uid}"', f'name = "Name {uid[18:22]}"',
                  f'token = "pw-{uid}"']
    lines += ["[[groups]]", 'id = "all"', 'name = "Everyone"', 'members = ["*"]']
    return Directory.from_toml_text("\n".join(lines))


@pytest.fixture(scope="module")
def directory() -> Directory:
    return big_directory()


ME = "firstname.lastname0000@example.org"


def test_the_roster_keeps_its_groups_and_as_many_contacts_as_fit(
        directory: Directory, caplog: pytest.LogCaptureFixture) -> None:
    state = ServerState(directory, ServerSettings(auth="token"), udp_port=9400)
    login = state.login(1, ME, f"pw-{ME}", "127.0.0.1", ("roster", "presence"))
    reply = fit_one_frame(Message.response("1", login.reply, "MID_SESSION"))
    assert len(encode_message(reply)) <= MAX_FRAME
    roster = reply.body.roster
    contacts = [e for e in roster if e.kind == "contact"]
    assert roster[0] == RosterEntry("group", "all", "Everyone")
    assert contacts == [e for e in directory.roster(ME, "token") if e.kind == "contact"]
    # as many as fit: one more would not (halving would keep 599 of the 1199)
    one_more = RosterEntry("contact", f"firstname.lastname{len(contacts) + 1:04d}@example.org",
                           "Name 9999")
    assert len(encode_message(Message.notification(RosterNotice(
        (*roster, one_more), directory.name_of(ME))))) > MAX_FRAME - LOGIN_HEADROOM
    assert 900 < len(contacts) < USERS - 1
    assert "more than one frame holds" in caplog.text


def test_presence_watches_the_contacts_served_and_its_sync_fits_a_frame(
        directory: Directory) -> None:
    state = ServerState(directory, ServerSettings(auth="token"), udp_port=9400)
    state.login(1, ME, f"pw-{ME}", "127.0.0.1", ("roster", "presence"))
    served = [e.id for e in directory.roster(ME, "token") if e.kind == "contact"]
    assert state.presence.contacts_of[1] == frozenset(served)
    sync = state.presence.presence_sync(state.sessions[1]).reply
    assert [c.uid for c in sync.contacts] == served[:len(sync.contacts)]
    assert len(encode_message(Message.response("2", sync, "MID_SESSION"))) <= MAX_FRAME
    assert len(sync.contacts) > 900
    # a contact not served is not watched: its login tells the session nothing
    hidden = next(u for u in directory.users if u != ME and u not in served)
    told = state.login(2, hidden, f"pw-{hidden}", "127.0.0.1").outbox
    assert not [m for sid, m in told.messages if sid == 1]


def test_syncs_answer_with_each_contact_s_entries_made_once_and_their_xml_kept(
        directory: Directory) -> None:
    # every client asks a sync after a reload's roster notice: each made a thousand entries,
    # whose XML the codec then looked up by value (~2.5 ms a sync on the event loop)
    from app.protocol.xmlcodec import presence
    state = ServerState(directory, ServerSettings(auth="token"), udp_port=9400)
    other = "firstname.lastname0001@example.org"
    for sid, uid in enumerate((ME, other), 1):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1", ("roster", "presence"))
    first = state.presence.presence_sync(state.sessions[1]).reply
    encode_message(Message.response("2", first, "MID_SESSION"))
    again = state.presence.presence_sync(state.sessions[2]).reply
    shared = [c for c in again.contacts if c.uid != ME]
    assert all(a is b for a, b in zip([c for c in first.contacts if c.uid != other], shared,
                                      strict=False))
    before = presence._contact_xml.cache_info()
    data = encode_message(Message.response("3", again, "MID_SESSION"))
    after = presence._contact_xml.cache_info()
    assert after.hits + after.misses <= before.hits + before.misses + 1  # (ME's, new): by value
    assert decode_message(data).body == again


def test_a_presence_sync_longer_than_its_roster_is_cut_at_the_frame_s_last_byte() -> None:
    # one-letter names: a contact's <contact id= status=/> is longer than its roster entry,
    # so the contacts served do not all fit the sync's answer; as many as fit are sent
    from app.protocol.limits import MAX_SEQ_LEN
    from app.protocol.presence import ContactPresence, PresenceSyncResult
    lines = ['[server]', 'auth = "open"']
    lines += [f'[[users]]\nuid = "firstname.lastname{n:04d}@example.org"\nname = "a"'
              for n in range(1300)]
    directory = Directory.from_toml_text("\n".join(lines))
    state = ServerState(directory, ServerSettings(auth="open"), udp_port=9400)
    state.login(1, ME, "x", "127.0.0.1", ("roster", "presence"))
    served = [e.id for e in directory.roster(ME, "open") if e.kind == "contact"]
    sync = state.presence.presence_sync(state.sessions[1]).reply
    count = len(sync.contacts)
    assert 500 < count < len(served)
    assert [c.uid for c in sync.contacts] == served[:count]

    def size(contacts: int) -> int:
        listed = tuple(ContactPresence(uid, False) for uid in served[:contacts])
        return len(encode_message(Message.response("x" * MAX_SEQ_LEN,
                                                   PresenceSyncResult(listed), "MID_SESSION")))

    assert size(count) <= MAX_FRAME < size(count + 1)


def test_a_roster_that_fits_is_not_encoded_whole_to_check_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a reload telling 500 sessions their roster of 1,000 contacts encoded each two or three
    # times on the event loop (21 s): sizes are summed from the entries' instead
    from app.server import frame_fit
    directory = big_directory(900)
    uid = "firstname.lastname0001@example.org"
    encoded: list[int] = []
    size_of = frame_fit.size_of
    monkeypatch.setattr(frame_fit, "size_of", lambda m: encoded.append(n := size_of(m)) or n)
    roster = directory.roster(uid, "token")
    reply = Message.response("1", LoginResult(uid, 9400, 15, 60, roster), "MID_SESSION")
    assert fit_one_frame(reply) is reply
    assert len(roster) == 900 and encoded and max(encoded) < 1000
    assert len(encode_message(reply)) > MAX_FRAME // 2  # (a big one, that fits)


def test_a_reload_sizes_each_contact_once_not_once_per_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 500 sessions of a 1,000-user directory: a reload (every roster changed) summed every
    # session's thousand contacts two or three times on the event loop (seconds)
    from app.server import frame_fit
    before, after = big_directory(300), big_directory(301)
    state = ServerState(before, ServerSettings(auth="token"), udp_port=9400)
    uids = list(before.users)[:40]
    for sid, uid in enumerate(uids, 1):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1", ("roster", "presence"))
    sized: list[str] = []
    entry_size = frame_fit.roster_entry_size

    def counted(entry: RosterEntry) -> int:
        sized.append(entry.id)
        return entry_size(entry)

    monkeypatch.setattr(frame_fit, "roster_entry_size", counted)
    import app.server.directory as directory_module
    monkeypatch.setattr(directory_module, "roster_entry_size", counted, raising=False)
    outbox = state.replace_directory(after, 1.0)
    notices = [m for _, m in outbox.messages if isinstance(m.body, RosterNotice)]
    assert len(notices) == len(uids) and all(len(n.body.roster) == 301 for n in notices)
    assert len(sized) < 2 * 301 + 4 * len(uids)  # each contact once, and a few per session


def test_a_presence_sync_that_fits_is_not_encoded_whole_to_check_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # every client asks again after a reload's roster notice: 434 sessions of 1,000
    # contacts spent seconds encoding their answers twice on the event loop
    from app.server import frame_fit
    directory = big_directory(700)
    state = ServerState(directory, ServerSettings(auth="token"), udp_port=9400)
    state.login(1, ME, f"pw-{ME}", "127.0.0.1", ("roster", "presence"))
    encoded: list[int] = []
    size_of = frame_fit.size_of
    monkeypatch.setattr(frame_fit, "size_of", lambda m: encoded.append(n := size_of(m)) or n)
    sync = state.presence.presence_sync(state.sessions[1]).reply
    assert len(sync.contacts) == 699 and encoded == []
    assert len(encode_message(Message.response("2", sync, "MID_SESSION"))) <= MAX_FRAME
