"""Both ends sans-IO, wired together (wsproto style): no sockets, one shared virtual clock.

Each client is a :class:`ClientSession` whose output bytes go, through the
``app.protocol`` framing and codec, into the server's rules
(:class:`~app.server.state.ServerState`), and whose input is the bytes the server
answers with. What the server sends to other sessions (notifications, kicks,
closes) is routed the same way, so every scenario runs both directions of the
contract with the real parsers on both sides.
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
    ErrCode,
    FrameDecoder,
    InterphoneChanged,
    InterphoneId,
    JoinRequest,
    Login,
    MembersRequest,
    Message,
    MessageKind,
    Ping,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body
from app.server import ServerState
from app.server.outbox import Outbox, Refused, Result
from app.server.tcp import echo_error

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")


@dataclass
class Link:
    """One client session and the server's end of its connection."""

    sid: int
    session: ClientSession
    model: ClientModel
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    to_client: bytearray = field(default_factory=bytearray)
    logged_in: bool = False
    closed: bool = False
    seen: list[SessionEvent] = field(default_factory=list)


class Wire:
    """The server's rules behind the byte codec, and the clients wired to it."""

    def __init__(self) -> None:
        self.state = ServerState(directory(), SETTINGS, udp_port=9400)
        self.links: dict[int, Link] = {}
        self.now = 0.0

    def client(self, uid: str, token: str | None = None) -> Link:
        session = ClientSession(uid, f"pw-{uid}" if token is None else token)
        link = Link(100 + len(self.links), session, ClientModel(uid))
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
                    for frame in link.decoder.feed(data):
                        self._serve(link, decode_message(frame))
                if link.to_client:
                    busy = True
                    data, link.to_client = bytes(link.to_client), bytearray()
                    link.session.receive_data(data)
                self._take_events(link)

    def advance(self, seconds: float) -> None:
        """Let virtual time pass: both sides' timers run at their deadlines, in order."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (link.session.next_deadline()
                                     for link in self.links.values() if not link.closed)
                         if d is not None]
            server = self.state.next_deadline()
            if server is not None:
                deadlines.append(server)
            due = min((d for d in deadlines if d <= end), default=None)
            if due is None:
                break
            self.now = max(self.now, due)
            self._deliver(self.state.handle_timer(self.now))
            for link in self.links.values():
                link.session.handle_timer(self.now)
            self.run()
        self.now = end

    def request(self, link: Link, body: Body) -> SessionEvent:
        """Send ``body``, carry the bytes, return the one event that ended it."""
        seq = link.session.send_request(body, self.now)  # type: ignore[arg-type]
        self.run()
        [ended] = [e for e in link.seen if getattr(e, "seq", None) == seq]
        return ended

    def login(self, link: Link) -> SessionEvent:
        seq = link.session.login(self.now)
        self.run()
        [ended] = [e for e in link.seen if getattr(e, "seq", None) == seq]
        return ended

    # ---- the server's end --------------------------------------------------------------------

    def _serve(self, link: Link, message: Message) -> None:
        assert message.kind is MessageKind.REQUEST
        body = message.body
        try:
            result = self._apply(link, body)
        except Refused as refusal:
            self._write(link, Message.response(
                message.seq, echo_error(body, refusal.errcode, refusal.errmsg), message.module))
            return
        reply = Message.response(message.seq, result.reply, message.module)
        if isinstance(body, Login):  # the older session is gone before the new one hears
            link.logged_in = True
            self._deliver(result.outbox)
            self._write(link, reply)
        else:
            self._write(link, reply)
            self._deliver(result.outbox)

    def _apply(self, link: Link, body: Body) -> Result:
        state, sid = self.state, link.sid
        if isinstance(body, Login):
            return state.login(sid, body.uid, body.token, "127.0.0.1")
        if not link.logged_in:
            raise Refused(ErrCode.UNAUTHORIZED, "log in first")
        match body:
            case Ping():
                return Result(Ping())
            case SyncRequest(ids):
                return state.sync(sid, ids)
            case MembersRequest(interphone):
                return state.members(sid, interphone)
            case JoinRequest(interphone, member):
                return state.join(sid, interphone, member)
            case QuitRequest(interphone, member):
                return state.quit(sid, interphone, member)
            case SpeakRequest(on, interphone):
                return state.speak(sid, interphone, on, self.now)
        raise Refused(ErrCode.BAD_REQUEST, f"unexpected {type(body).__name__}")

    def _write(self, link: Link, message: Message) -> None:
        if not link.closed:
            link.to_client += encode_frame(encode_message(message))

    def _deliver(self, outbox: Outbox) -> None:
        for sid, message in outbox.messages:
            self._write(self.links[sid], message)
        for sid in outbox.closes:
            link = self.links[sid]
            link.session.receive_data(bytes(link.to_client))  # flushed before the close
            link.to_client.clear()
            link.closed = True
            link.session.connection_lost("closed by the server")
            self._take_events(link)

    # ---- the client's end --------------------------------------------------------------------

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
