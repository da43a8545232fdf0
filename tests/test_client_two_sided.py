"""Both ends sans-IO, wired together (wsproto style): no sockets, one shared virtual clock.

Each client is a :class:`ClientSession`; the server is
:class:`~app.server.state.ServerState`, which takes a connection's bytes
(``receive_data(sid, data, now)``) and answers with an
:class:`~app.server.outbox.Outbox`. The harness only moves bytes: the client's
output into the server, and the server's messages, framed and encoded with
``app.protocol``, back into the addressed client, with closes and aborts. Both
sides' timers run on one virtual clock, so every scenario exercises both
directions of the contract and both sides' rules (login first, keepalive and
the idle limit, floor timers) with the real parsers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from client_fixtures import SETTINGS, directory

from app.client import ClientModel, FloorBusy
from app.client.errors import error_from_reply
from app.client.session import (
    ClientSession,
    ConnectionClosed,
    NotificationReceived,
    RequestRefused,
    ResponseReceived,
    SessionEvent,
    SessionKicked,
)
from app.protocol import (
    InterphoneChanged,
    InterphoneId,
    JoinRequest,
    Login,
    SpeakRequest,
    SyncRequest,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body
from app.server import ServerState
from app.server.outbox import Outbox

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")


@dataclass
class Link:
    """One client session and what the server has written to it."""

    sid: int
    session: ClientSession
    model: ClientModel
    to_client: bytearray = field(default_factory=bytearray)
    closed: bool = False
    seen: list[SessionEvent] = field(default_factory=list)


class Wire:
    """The server's state and the clients wired to it by bytes only."""

    def __init__(self, **overrides: object) -> None:
        self.state = ServerState(directory(), SETTINGS.with_overrides(**overrides),
                                 udp_port=9400)
        self.links: dict[int, Link] = {}
        self.now = 0.0

    def client(self, uid: str, token: str | None = None, **kwargs: object) -> Link:
        session = ClientSession(uid, f"pw-{uid}" if token is None else token,
                                **kwargs)  # type: ignore[arg-type]
        link = Link(100 + len(self.links), session, ClientModel(uid))
        assert self.state.connect(link.sid, "127.0.0.1", self.now)
        self.links[link.sid] = link
        return link

    # ---- moving bytes ----------------------------------------------------------------------

    def run(self) -> None:
        """Carry bytes both ways until nobody has anything left to say."""
        busy = True
        while busy:
            busy = False
            for link in list(self.links.values()):
                data = link.session.data_to_send()
                if data and not link.closed:
                    busy = True
                    self._deliver(self.state.receive_data(link.sid, data, self.now))
                if link.to_client:
                    busy = True
                    data, link.to_client = bytes(link.to_client), bytearray()
                    link.session.receive_data(data)
                if link.session.closed and not link.closed:
                    self._hang_up(link)  # the client side dropped the connection
                self._take_events(link)

    def advance(self, seconds: float) -> None:
        """Let virtual time pass: both sides' timers run at their deadlines, in order."""
        end = self.now + seconds
        while True:
            deadlines = [link.session.next_deadline() for link in self.links.values()
                         if not link.closed]
            deadlines.append(self.state.next_deadline())
            due = min((d for d in deadlines if d is not None and d <= end), default=None)
            if due is None:
                break
            self.now = max(self.now, due)
            self._deliver(self.state.handle_timer(self.now))
            for link in self.links.values():
                if not link.closed:
                    link.session.handle_timer(self.now)
            self.run()
        self.now = end

    def request(self, link: Link, body: Body) -> SessionEvent:
        """Send ``body``, carry the bytes, return the one event that ended it."""
        return self._ended(link, link.session.send_request(body, self.now))  # type: ignore

    def login(self, link: Link) -> SessionEvent:
        return self._ended(link, link.session.login(self.now))

    def _ended(self, link: Link, seq: str) -> SessionEvent:
        self.run()
        [ended] = [e for e in link.seen if getattr(e, "seq", None) == seq]
        return ended

    # ---- the server's output -----------------------------------------------------------------

    def _deliver(self, outbox: Outbox) -> None:
        for sid, message in outbox.messages:
            link = self.links[sid]
            if not link.closed:
                link.to_client += encode_frame(encode_message(message))
        for sid in outbox.closes:  # what was written is read before the end
            link = self.links[sid]
            link.session.receive_data(bytes(link.to_client))
            self._end(link, "closed by the server")
        for sid in outbox.aborts:
            self._end(self.links[sid], "aborted by the server")

    def _end(self, link: Link, reason: str) -> None:
        link.to_client.clear()
        link.session.connection_lost(reason)
        self._hang_up(link)
        self._take_events(link)

    def _hang_up(self, link: Link) -> None:
        link.closed = True
        self._deliver(self.state.disconnect(link.sid))

    @staticmethod
    def _take_events(link: Link) -> None:
        while (event := link.session.next_event()) is not None:
            link.seen.append(event)
            if isinstance(event, ResponseReceived | NotificationReceived):
                link.model.apply_body(event.body)


@pytest.fixture
def wire() -> Wire:
    return Wire()


def logged_in(wire: Wire, uid: str) -> Link:
    link = wire.client(uid)
    assert isinstance(wire.login(link), ResponseReceived)
    assert isinstance(wire.request(link, SyncRequest(link.model.roster_ids())), ResponseReceived)
    return link


def test_login_gives_the_roster_and_starts_the_keepalive(wire: Wire) -> None:
    alice = wire.client("alice")
    ended = wire.login(alice)
    assert isinstance(ended, ResponseReceived) and ended.request == Login("alice", "pw-alice")
    assert ended.body == alice.session.login_result
    assert set(alice.model.roster_ids()) == {G58, D12}
    assert alice.session.next_deadline() == SETTINGS.advertised_keepalive


def test_a_refused_login_is_answered_in_kind(wire: Wire) -> None:
    mallory = wire.client("alice", token="wrong")
    ended = wire.login(mallory)
    assert isinstance(ended, RequestRefused) and ended.error.errcode == 401
    assert ended.error.tag == "login"
    assert not mallory.session.logged_in


def test_join_reaches_the_other_member_and_the_watcher(wire: Wire) -> None:
    alice, bob, carol = (logged_in(wire, uid) for uid in ("alice", "bob", "carol"))
    for link in (alice, bob):
        link.model.expect_join(G58)
        assert isinstance(wire.request(link, JoinRequest(G58, link.model.uid)), ResponseReceived)
    assert alice.model.members == ("alice", "bob") == bob.model.members
    assert carol.model.interphones[G58].member_count == 2  # watching by sync
    assert carol.model.joined is None


@pytest.mark.parametrize(("first", "second"), [("alice", "bob"), ("bob", "alice")])
def test_the_floor_is_one_speaker_at_a_time_either_way_round(wire: Wire, first: str,
                                                             second: str) -> None:
    links = {uid: logged_in(wire, uid) for uid in (first, second)}
    for link in links.values():
        wire.request(link, JoinRequest(G58))
    granted = wire.request(links[first], SpeakRequest(True, G58))
    assert isinstance(granted, ResponseReceived)
    refused = wire.request(links[second], SpeakRequest(True, G58))
    assert isinstance(refused, RequestRefused)
    error = error_from_reply(refused.error, "SpeakRequest")
    assert isinstance(error, FloorBusy) and error.holder == first
    assert links[second].model.speaker == first


@pytest.mark.parametrize(("caller", "callee"), [("alice", "bob"), ("bob", "alice")])
def test_a_chat_call_names_the_caller_on_the_other_side_either_way_round(
        wire: Wire, caller: str, callee: str) -> None:
    links = {uid: logged_in(wire, uid) for uid in (caller, callee)}
    chat = InterphoneId.chat(caller, callee)
    links[caller].model.expect_join(chat)
    wire.request(links[caller], JoinRequest(chat))
    [note] = [e for e in links[callee].seen if isinstance(e, NotificationReceived)]
    assert isinstance(note.body, InterphoneChanged)
    assert note.body.info.attach_id == caller  # the other party, as the callee sees it
    assert links[callee].model.interphones[chat].member_count == 1


def test_a_second_login_kicks_the_first_session(wire: Wire) -> None:
    first = logged_in(wire, "alice")
    first.model.expect_join(G58)
    wire.request(first, JoinRequest(G58))
    second = wire.client("alice")
    assert isinstance(wire.login(second), ResponseReceived)
    assert first.seen[-2:] == [SessionKicked("login_elsewhere"),
                               ConnectionClosed("kicked: login_elsewhere")]
    assert first.session.closed and second.session.logged_in
    bob = logged_in(wire, "bob")  # the kicked session left the group on its way out
    assert G58 not in bob.model.interphones


def test_the_server_revokes_a_grant_on_the_shared_clock(wire: Wire) -> None:
    alice, bob = logged_in(wire, "alice"), logged_in(wire, "bob")
    for link in (alice, bob):
        link.model.expect_join(G58)
        wire.request(link, JoinRequest(G58))
    wire.request(alice, SpeakRequest(True, G58))
    assert bob.model.speaker == "alice"
    wire.advance(SETTINGS.silence_timeout - 0.5)
    assert bob.model.speaker == "alice"
    wire.advance(1.0)  # no audio for silence_timeout: revoked, both are told
    assert bob.model.speaker == "" and alice.model.speaker == ""


def test_keepalive_pings_are_answered_by_the_server_for_an_hour(wire: Wire) -> None:
    alice = logged_in(wire, "alice")
    wire.advance(3600)
    assert alice.session.logged_in
    assert alice.session.pings_sent == 3600 // SETTINGS.advertised_keepalive
    assert not [e for e in alice.seen if isinstance(e, ConnectionClosed)]


def test_a_client_that_pings_too_rarely_is_dropped_by_the_server(wire: Wire) -> None:
    # The counter-case of the test above: the server's idle rule is really in play.
    lazy = wire.client("alice", ping_interval=4 * SETTINGS.keepalive)
    assert isinstance(wire.login(lazy), ResponseReceived)
    wire.advance(3 * SETTINGS.keepalive + 1)
    assert lazy.closed and lazy.session.closed
    assert lazy.seen[-1] == ConnectionClosed("closed by the server")


def test_login_features_are_asked_for_and_none_granted_by_this_server(wire: Wire) -> None:
    asking = wire.client("alice", features=("queue",))
    seq = asking.session.login(wire.now)
    request = asking.session.data_to_send()
    assert b"features='queue'" in request or b'features="queue"' in request
    wire._deliver(wire.state.receive_data(asking.sid, request, wire.now))
    assert b"features" not in bytes(asking.to_client)  # nothing granted: the base answer
    wire.run()
    [ended] = [e for e in asking.seen if getattr(e, "seq", None) == seq]
    assert isinstance(ended, ResponseReceived) and asking.session.features == frozenset()


def test_a_session_asking_for_nothing_sends_the_base_login(wire: Wire) -> None:
    plain = wire.client("bob")
    plain.session.login(wire.now)
    request = plain.session.data_to_send()
    assert b"features" not in request
    wire._deliver(wire.state.receive_data(plain.sid, request, wire.now))
    wire.run()
    assert plain.session.logged_in and plain.session.features == frozenset()
