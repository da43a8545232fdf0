"""The XML of a large roster: made from each entry's XML, kept, and the same bytes as
element by element (a login response of a thousand contacts took about 10 ms to encode,
for every login and every session a directory reload tells its roster)."""

from __future__ import annotations

import pytest

from app.protocol.messages import LoginResult, Message, RosterEntry, RosterNotice
from app.protocol.xmlcodec import base, decode_message, encode_message

NAMES = ["A & B", "x<y>z", "quote \" and ' apos", "tab\there", "new\nline", "中文名字",
         "emoji 😀", "bad \x01 char", ""]


def roster(count: int) -> tuple[RosterEntry, ...]:
    return (RosterEntry("group", "58", "Ops & co"),
            *(RosterEntry("contact", f"user{n}", NAMES[n % len(NAMES)]) for n in range(count)))


def test_a_large_roster_encodes_to_the_same_bytes_as_element_by_element() -> None:
    entries = roster(200)
    message = Message.notification(RosterNotice(entries, "Me"))
    expected = b"".join(
        b'<%s id="%s" name="%s"/>' % (e.kind.encode(), e.id.encode(), text) for e, text in zip(
            entries, [b"Ops &amp; co", *[[b"A &amp; B", b"x&lt;y&gt;z",
                                          b"quote &quot; and ' apos", b"tab&#9;here",
                                          b"new&#10;line", "中文名字".encode(),
                                          "emoji 😀".encode(), "bad \ufffd char".encode(),
                                          b""][n % len(NAMES)] for n in range(200)]],
            strict=True))
    data = encode_message(message)
    assert expected in data
    assert decode_message(data).body.roster[1:3] == (
        RosterEntry("contact", "user0", "A & B"), RosterEntry("contact", "user1", "x<y>z"))
    login = Message.response("1", LoginResult("me", 9400, 15, 60, entries), "MID_SESSION")
    assert expected in encode_message(login)


def test_the_entries_of_a_roster_are_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = roster(1000)
    message = Message.notification(RosterNotice(entries, "Me"))
    first = encode_message(message)
    made: list[str] = []
    new_element = base.new_element
    monkeypatch.setattr(base, "new_element", lambda tag, **attrs: (
        made.append(tag), new_element(tag, **attrs))[1])
    assert encode_message(message) == first
    assert len(made) < 10  # (the envelope's), not one per entry


def test_a_roster_of_entries_equal_to_known_ones_is_looked_up_by_identity_once_seen() -> None:
    # a reload makes new entry objects, equal to the previous directory's: a lookup by value
    # compared each with its equal field by field (~2.5 ms a roster of a thousand contacts)
    old = roster(1000)
    base.roster_xml(old)
    new = tuple(RosterEntry(e.kind, e.id, e.name) for e in old)
    xml = base.roster_xml(new)  # the first roster told after the reload: by value
    before = base._entry_xml.cache_info()
    assert base.roster_xml(new) == xml == base.roster_xml(old)
    after = base._entry_xml.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # by identity


def test_a_large_presence_sync_is_the_same_bytes_and_its_entries_made_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.protocol.presence import ContactPresence, PresenceSyncResult
    from app.protocol.xmlcodec import presence
    contacts = tuple(ContactPresence(f"user{n}@example.org", n % 3 == 0) for n in range(1000))
    message = Message.response("7", PresenceSyncResult(contacts), "MID_SESSION")
    data = encode_message(message)
    assert b'<contact id="user0@example.org" status="online"/><contact id="user1@example.org"' \
           b' status="offline"/>' in data
    assert decode_message(data).body == message.body
    made: list[str] = []
    new_element = presence.new_element
    monkeypatch.setattr(presence, "new_element", lambda tag, **attrs: (
        made.append(tag), new_element(tag, **attrs))[1])
    assert encode_message(message) == data
    assert len(made) < 10  # (the answer's own), not one per contact


@pytest.mark.parametrize("name", ["Me", "", "Zoë & <co> \"q\""])
def test_a_large_roster_is_spliced_into_the_same_bytes_as_lxml_makes(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a reload tells hundreds of sessions a roster of a thousand contacts: parsing the
    # entries into a tree and serializing it again took about 2 ms a session on the loop
    import app.protocol.xmlcodec as xmlcodec
    entries = roster(1000)
    messages = [Message.notification(RosterNotice(entries, name)),
                Message.response("1", LoginResult("me", 9400, 15, 60, entries, name=name,
                                                  media_secret="s3cr3t", priority=3),
                                 "MID_SESSION")]
    spliced = [encode_message(message) for message in messages]
    parsed: list[bytes] = []
    fromstring = base.etree.fromstring
    monkeypatch.setattr(base.etree, "fromstring", lambda data, *a, **k: (
        parsed.append(data), fromstring(data, *a, **k))[1])
    assert [encode_message(message) for message in messages] == spliced
    assert not parsed  # the entries are not parsed into a tree
    monkeypatch.setattr(xmlcodec, "SPLICED_ROSTER", 10 ** 9)  # the tree, element by element
    assert [encode_message(message) for message in messages] == spliced
    for data in spliced:  # (a control character in a name is replaced on the wire)
        assert [e.id for e in decode_message(data).body.roster] == [e.id for e in entries]


def test_a_large_presence_sync_is_spliced_into_the_same_bytes_as_lxml_makes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # every client asks for a sync after a reload's roster notice: parsing a thousand
    # contacts into a tree and serializing it again took 2-4 ms a session on the loop
    import app.protocol.xmlcodec as xmlcodec
    from app.protocol.presence import ContactPresence, PresenceSyncResult
    from app.protocol.xmlcodec import presence
    contacts = tuple(ContactPresence(f"user{n}@example.org", n % 3 == 0) for n in range(1000))
    message = Message.response("7", PresenceSyncResult(contacts), "MID_SESSION")
    spliced = encode_message(message)
    parsed: list[bytes] = []
    fromstring = presence.etree.fromstring
    monkeypatch.setattr(presence.etree, "fromstring", lambda data, *a, **k: (
        parsed.append(data), fromstring(data, *a, **k))[1])
    assert encode_message(message) == spliced
    assert not parsed  # the contacts are not parsed into a tree
    monkeypatch.setattr(xmlcodec, "SPLICED_ROSTER", 10 ** 9)  # the tree
    assert encode_message(message) == spliced
    assert decode_message(spliced).body == message.body
    assert spliced.endswith(b'<contact id="user999@example.org" status="online"/>'
                            b"</presence></message>")
