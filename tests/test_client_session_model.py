"""A model-based (stateful) test of the client's sans-IO session (app/client/session.py)
against the server's sans-IO state: hypothesis opens a few ClientSessions to one
ServerState over an in-memory network that carries bytes in any split, sends requests,
lets the clock run (both sides' timers at their deadlines, the network delivering
everything before each) and drops connections. After each step: each request ends exactly
once (answered, refused, timed out or abandoned at the close), the client reads everything
the server sends (no odd frame, no unreadable answer), and over a network that delivers,
the keepalive keeps every session alive and no request times out.

Sized by tests/fuzzing.py: ``INTERPHONE_FUZZ_EXAMPLES`` (or ``--slow``) runs it long.
"""

from __future__ import annotations

import itertools

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from server_model import DIRECTORIES, FEATURE_SETS, INTERPHONES, SETTINGS, USERS

from app.client.session import (
    ClientSession,
    ConnectionClosed,
    RequestRefused,
    RequestTimedOut,
    ResponseReceived,
    ResponseUnreadable,
    SessionKicked,
)
from app.protocol import encode_frame, encode_message
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    JoinRequest,
    MembersRequest,
    Ping,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest
from app.server.outbox import Outbox
from app.server.state import ServerState

REQUESTS = [
    lambda i: JoinRequest(i), lambda i: QuitRequest(i), lambda i: MembersRequest(i),
    lambda i: SpeakRequest(True, i, queue=True), lambda i: SpeakRequest(False, i),
    lambda i: SyncRequest((i,)), lambda i: Ping(), lambda i: PresenceSyncRequest(),
    lambda i: EmergencyRequest(EmergencyAction.RAISE, i),
    lambda i: CallRequest(CallAction.RING, i),
]


class Link:
    """One connection: its client session, the bytes in flight each way, its requests."""

    def __init__(self, sid: int, client: ClientSession) -> None:
        self.sid = sid
        self.client = client
        self.up = b""  # client -> server, not yet read
        self.down = b""  # server -> client, not yet read
        self.sent: set[str] = set()
        self.ended: set[str] = set()
        self.closed = False


class ClientSessionModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = ServerState(DIRECTORIES[0](), SETTINGS, udp_port=9400)
        self.now = 1000.0
        self.sids = itertools.count(1)
        self.links: dict[int, Link] = {}

    # ---- the network ---------------------------------------------------------------------

    def _outbox(self, outbox: Outbox) -> None:
        # the network delivers everything before each timer: the keepalive keeps every session
        idle = [line for line in outbox.log_lines if "idle for" in line]
        assert not idle, idle
        for sid, message in outbox.messages:
            link = self.links.get(sid)
            if link is not None and not link.closed:
                link.down += encode_frame(encode_message(message))
        for sid in outbox.closes + outbox.aborts:
            link = self.links.get(sid)
            if link is None or link.closed:
                continue
            if sid in outbox.closes:
                self._to_client(link, len(link.down))  # flushed first
            self._hang_up(link)

    def _hang_up(self, link: Link) -> None:
        link.closed = True
        link.client.connection_lost("closed")
        self._events(link)
        self._outbox(self.state.disconnect(link.sid))

    def _to_server(self, link: Link, size: int) -> None:
        link.up += link.client.data_to_send()
        chunk, link.up = link.up[:size], link.up[size:]
        if chunk and not link.closed:
            self._outbox(self.state.receive_data(link.sid, chunk, self.now))

    def _to_client(self, link: Link, size: int) -> None:
        chunk, link.down = link.down[:size], link.down[size:]
        if chunk:
            link.client.receive_data(chunk)
            self._events(link)

    def _events(self, link: Link) -> None:
        while (event := link.client.next_event()) is not None:
            match event:
                case ResponseReceived(seq=seq) | RequestRefused(seq=seq):
                    self._ended(link, seq)
                case RequestTimedOut():
                    raise AssertionError(f"{event} over a network that delivers")
                case ResponseUnreadable():
                    raise AssertionError(f"the client cannot read the server: {event}")
                case ConnectionClosed(abandoned=abandoned):
                    for seq in abandoned:
                        self._ended(link, seq)
                    assert "ping" not in event.reason, event
                case SessionKicked():
                    pass

    @staticmethod
    def _ended(link: Link, seq: str) -> None:
        assert seq in link.sent, f"an answer to {seq}, never sent"
        assert seq not in link.ended, f"{seq} ended twice"
        link.ended.add(seq)

    def _flush(self) -> None:
        """The network delivers everything in flight, both ways, until nothing is left."""
        for _ in range(20):
            busy = False
            for link in list(self.links.values()):
                if link.closed:
                    continue
                link.up += link.client.data_to_send()
                if link.up:
                    self._to_server(link, 1 << 30)
                    busy = True
                if link.down:
                    self._to_client(link, 1 << 30)
                    busy = True
            if not busy:
                return

    def _open_links(self) -> list[int]:
        return sorted(sid for sid, link in self.links.items() if not link.closed)

    # ---- rules -----------------------------------------------------------------------------

    @rule(uid=st.sampled_from(USERS), features=st.sampled_from(FEATURE_SETS))
    def connect(self, uid: str, features: tuple[str, ...]) -> None:
        sid = next(self.sids)
        assert self.state.connect(sid, "127.0.0.1", self.now)
        client = ClientSession(uid, f"pw-{uid}", features=features, request_timeout=5.0)
        link = self.links[sid] = Link(sid, client)
        link.sent.add(client.login(self.now))

    @precondition(lambda self: bool(self._open_links()))
    @rule(data=st.data(), make=st.sampled_from(REQUESTS),
          interphone=st.sampled_from(INTERPHONES))
    def request(self, data: st.DataObject, make, interphone) -> None:  # type: ignore[no-untyped-def]
        link = self.links[data.draw(st.sampled_from(self._open_links()))]
        if link.client.logged_in:
            link.sent.add(link.client.send_request(make(interphone), self.now))

    @precondition(lambda self: bool(self._open_links()))
    @rule(data=st.data(), size=st.sampled_from([1, 7, 50, 1 << 30]), up=st.booleans())
    def network_carries(self, data: st.DataObject, size: int, up: bool) -> None:
        link = self.links[data.draw(st.sampled_from(self._open_links()))]
        if up:
            self._to_server(link, size)
        else:
            self._to_client(link, size)

    @rule(dt=st.sampled_from([0.5, 3.0, 10.0, 16.0, 40.0]))
    def time_passes(self, dt: float) -> None:
        """Each side's timers at their deadlines, the network delivering all before each."""
        target = self.now + dt
        for _ in range(1000):
            self._flush()
            deadlines = [(d, sid) for sid, link in self.links.items() if not link.closed
                         and (d := link.client.next_deadline()) is not None]
            server = self.state.next_deadline()
            if server is not None:
                deadlines.append((server, 0))
            due = [entry for entry in deadlines if entry[0] <= target]
            if not due:
                break
            at, sid = min(due)
            self.now = max(self.now, at)
            if sid == 0:
                self._outbox(self.state.handle_timer(self.now))
            else:
                link = self.links[sid]
                link.client.handle_timer(self.now)
                self._events(link)
        self.now = target
        self._flush()

    @precondition(lambda self: bool(self._open_links()))
    @rule(data=st.data())
    def connection_drops(self, data: st.DataObject) -> None:
        self._hang_up(self.links[data.draw(st.sampled_from(self._open_links()))])

    @rule()
    def reload_directory(self) -> None:
        self._outbox(self.state.replace_directory(DIRECTORIES[1](), self.now))

    # ---- invariants ------------------------------------------------------------------------

    @invariant()
    def both_sides_agree(self) -> None:
        for sid, link in self.links.items():
            client = link.client
            assert client.odd_frames == 0, f"session {sid} got frames it could not use"
            if link.closed:
                assert client.closed
                assert link.ended == link.sent, f"{link.sent - link.ended} never ended"
                assert sid not in self.state.peers
                continue
            link.up += client.data_to_send()  # (into the network: sent, not yet read)
            if not (link.up or link.down):
                assert client.logged_in == (sid in self.state.sessions), (
                    sid, client.state, sid in self.state.sessions)


TestClientSessionModel = fuzz_machine(ClientSessionModel)
