"""A model-based (stateful) test of the server's rules: hypothesis drives a
:class:`~app.server.state.ServerState` through the frames a few users send (logins, a second
login of the same uid, joins, quits, floor requests with the floor extensions, calls,
presence), media registration and audio, connections closed or lost, the clock and its
timers, and directory reloads; after each step it checks what PROTOCOL.md and
docs/protocol-extensions.md promise (tests/server_model.py holds the invariants).

Sized by tests/fuzzing.py: ``INTERPHONE_FUZZ_EXAMPLES`` (or ``--slow``) runs it long.
"""

from __future__ import annotations

import itertools

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from server_model import (
    DIRECTORIES,
    DIRECTORY_USERS,
    FEATURE_SETS,
    INTERPHONES,
    OPEN_SETTINGS,
    SETTINGS,
    USERS,
    ModelChecker,
    request_frame,
)

from app.protocol import InterphoneId
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    JoinRequest,
    Login,
    LoginResult,
    MembersRequest,
    Ping,
    QualityReport,
    QuitRequest,
    RosterNotice,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest
from app.server.addr_limits import RecvBeginBuckets
from app.server.state import ServerState

users = st.sampled_from(USERS)
interphones = st.sampled_from(INTERPHONES)


class ServerStateMachine(RuleBasedStateMachine):
    """Users on one server, as its socket layer would drive it."""

    settings = SETTINGS

    def __init__(self) -> None:
        super().__init__()
        self.directory_index = 0
        self.state = ServerState(DIRECTORIES[0](), self.settings, udp_port=9400)
        self.state.syncs_per_turn = 1  # presence syncs past one a turn wait (next_turn)
        self.state.media_gate.buckets = RecvBeginBuckets(rate=1e9, burst=10**9)
        self.now = 1000.0
        self.sids = itertools.count(1)
        self.seqs = itertools.count(1)
        self.check = ModelChecker(self.state)

    @initialize(features=st.lists(st.sampled_from(FEATURE_SETS), min_size=len(USERS),
                                  max_size=len(USERS)), data=st.data())
    def everyone_logs_in(self, features: list[tuple[str, ...]], data: st.DataObject) -> None:
        """Most steps are someone's request: start with every user logged in, in a few
        interphones."""
        for uid, asked in zip(USERS, features, strict=True):
            self.login(uid, asked, token_ok=True)
        for uid, interphone in data.draw(st.lists(st.sampled_from(self._pairs(members=False)),
                                                  max_size=8)):
            self._as(uid, JoinRequest(interphone))
        for interphone, record in list(self.state.interphones.items()):
            self._speak(next(iter(record.members)), interphone, True, queue=False,
                        emergency=False)

    # ---- helpers -------------------------------------------------------------------------

    def _sid_of(self, uid: str) -> int | None:
        return self.state.by_uid.get(uid)

    def _send(self, sid: int, body: object) -> object:
        """Send ``body`` on ``sid``; returns its answer (None: none yet)."""
        seq = str(next(self.seqs))
        outbox = self.state.receive_data(sid, request_frame(seq, body), self.now)
        self.check.step(outbox, now=self.now)
        answers = [m for s, m in outbox.messages if s == sid and m.seq == seq]
        assert len(answers) <= 1, answers
        if answers and isinstance(body, SpeakRequest):
            self.check.speak_answered(sid, body, answers[0].body)
        return answers[0].body if answers else None

    def _as(self, uid: str, body: object) -> None:
        sid = self._sid_of(uid)
        if sid is not None:
            self._send(sid, body)

    # ---- sessions ------------------------------------------------------------------------

    @rule(uid=users, features=st.sampled_from(FEATURE_SETS),
          token_ok=st.sampled_from([True, True, True, False]))
    def login(self, uid: str, features: tuple[str, ...], token_ok: bool) -> None:
        """A new connection logs in (a second login of a uid replaces its session)."""
        sid = next(self.sids)
        assert self.state.connect(sid, "127.0.0.1", self.now)
        self.check.connected(sid)
        token = f"pw-{uid}" if token_ok else "wrong"
        answer = self._send(sid, Login(uid, token, features=features))
        # auth "token": directory users with their token only; "open": any uid, any token
        listed = uid in DIRECTORY_USERS and (self.directory_index == 0 or uid != "eve")
        admitted = self.settings.auth == "open" or (token_ok and listed)
        assert isinstance(answer, LoginResult) == admitted, (uid, token, answer)

    @rule(uid=users)
    def ping(self, uid: str) -> None:
        self._as(uid, Ping())

    @precondition(lambda self: bool(self.check.open_sids(self.state)))
    @rule(data=st.data(), lose=st.booleans())
    def connection_gone(self, data: st.DataObject, lose: bool) -> None:
        """A connection ends: at once, or first known lost and ended in a later step."""
        sid = data.draw(st.sampled_from(sorted(self.check.open_sids(self.state))))
        if lose and sid in self.state.peers and not self.state.peers[sid].lost:
            self.state.lost(sid)  # (its session ends when socket_closed disconnects it)
            return
        self.check.step(self.state.disconnect(sid), now=self.now)
        self.check.disconnected(sid)

    @precondition(lambda self: bool(self.check.closing_sids(self.state)))
    @rule(data=st.data())
    def socket_closed(self, data: st.DataObject) -> None:
        """The socket layer carries out a close the state asked for (or ends a lost one)."""
        sid = data.draw(st.sampled_from(sorted(self.check.closing_sids(self.state))))
        self.check.step(self.state.disconnect(sid), now=self.now)
        self.check.disconnected(sid)

    @rule()
    def next_turn(self) -> None:
        """A new turn of the event loop (the socket layer calls next_turn when turn_used)."""
        if self.state.turn_used():
            self.check.step(self.state.next_turn(self.now), now=self.now)

    @rule()
    def reload_directory(self) -> None:
        """A reload (eve removed from the directory, or back). Extension presence: a user it
        removes whose session goes on (``auth = "open"`` kicks nobody) is still watched by
        its contacts until that session ends; a contact it adds has no status told until
        the session syncs again (a client does after the roster notice)."""
        self.directory_index = 1 - self.directory_index
        directory = DIRECTORIES[self.directory_index]()
        presence, previous, auth = self.state.presence, self.state.directory, self.settings.auth
        before = dict(presence.contacts_of)
        outbox = self.state.replace_directory(directory, self.now)
        self.check.step(outbox, now=self.now)
        # extension roster: a session granted it is told its roster once if the reload
        # changed it or its name, else nothing
        told = [sid for sid, m in outbox.messages if isinstance(m.body, RosterNotice)]
        changed = [sid for sid, session in sorted(self.state.sessions.items())
                   if "roster" in session.features
                   and (previous.roster(session.uid, auth), previous.name_of(session.uid))
                   != (directory.roster(session.uid, auth), directory.name_of(session.uid))]
        assert sorted(told) == changed, (told, changed)
        for sid, contacts in presence.contacts_of.items():
            kept = {uid for uid in before.get(sid, frozenset())
                    if uid not in directory.users and uid in self.state.by_uid}
            assert kept <= contacts, f"session {sid} stopped watching {kept - contacts}"
            view = self.check.views.get(sid)
            for uid in contacts - before.get(sid, frozenset()) if view is not None else ():
                view.online.pop(uid, None)

    def _pairs(self, *, members: bool) -> list[tuple[str, InterphoneId]]:
        """(uid, interphone) of each live user and each interphone it is a member of
        (``members``) or may see."""
        state = self.state
        if members:
            pairs = [(session.uid, i) for session in state.sessions.values()
                     for i in session.joined]
        else:
            pairs = [(uid, i) for uid in state.by_uid for i in INTERPHONES
                     if state.directory.may_see(uid, i, state.settings.auth)]
        return sorted(pairs, key=lambda pair: (pair[0], str(pair[1])))

    def _contenders(self) -> list[tuple[str, InterphoneId]]:
        """Members of an interphone whose floor another member holds."""
        state = self.state
        return [(uid, i) for uid, i in self._pairs(members=True)
                if state.interphones[i].holder not in ("", uid)]

    def _holders(self) -> list[tuple[str, InterphoneId]]:
        return sorted(((r.holder, i) for i, r in self.state.interphones.items() if r.holder),
                      key=lambda pair: (pair[0], str(pair[1])))

    # ---- memberships ---------------------------------------------------------------------

    @precondition(lambda self: bool(self._pairs(members=False)))
    @rule(data=st.data())
    def join_visible(self, data: st.DataObject) -> None:
        uid, interphone = data.draw(st.sampled_from(self._pairs(members=False)))
        self._as(uid, JoinRequest(interphone))

    @precondition(lambda self: bool(self._pairs(members=True)))
    @rule(data=st.data())
    def member_quits(self, data: st.DataObject) -> None:
        uid, interphone = data.draw(st.sampled_from(self._pairs(members=True)))
        self._as(uid, QuitRequest(interphone))

    @rule(uid=users, interphone=interphones, request=st.sampled_from(
        ["join", "quit", "members", "on", "off", "raise", "cancel", "recvbegin", "audio"]))
    def anyone_asks(self, uid: str, interphone: InterphoneId, request: str) -> None:
        """A request of any user about any interphone: mostly refused (not logged in, not
        a member, may not see it)."""
        match request:
            case "join":
                self._as(uid, JoinRequest(interphone))
            case "quit":
                self._as(uid, QuitRequest(interphone))
            case "members":
                self._as(uid, MembersRequest(interphone))
            case "on" | "off":
                self._speak(uid, interphone, request == "on", queue=True, emergency=False)
            case "raise" | "cancel":
                self._emergency(uid, interphone, request == "raise")
            case "recvbegin":
                self.check.recvbegin(uid, str(interphone), ("127.0.0.1", 5000))
            case _:
                self.check.audio(uid, str(interphone), ("127.0.0.1", 5000), self.now)

    @rule(uid=users, ids=st.lists(interphones, max_size=3, unique=True))
    def sync(self, uid: str, ids: list[InterphoneId]) -> None:
        self._as(uid, SyncRequest(tuple(ids)))

    # ---- floor ---------------------------------------------------------------------------

    def _speak(self, uid: str, interphone: InterphoneId, on: bool, *, queue: bool,
               emergency: bool) -> None:
        self._as(uid, SpeakRequest(on, interphone, queue=queue and on,
                                   emergency=emergency and on))

    def _emergency(self, uid: str, interphone: InterphoneId, raise_: bool) -> None:
        action = EmergencyAction.RAISE if raise_ else EmergencyAction.CANCEL
        self._as(uid, EmergencyRequest(action, interphone))

    @precondition(lambda self: bool(self._pairs(members=True)))
    @rule(data=st.data(), on=st.sampled_from([True, True, False]), queue=st.booleans(),
          emergency=st.sampled_from([False, False, False, True]))
    def member_speaks(self, data: st.DataObject, on: bool, queue: bool, emergency: bool) -> None:
        uid, interphone = data.draw(st.sampled_from(self._pairs(members=True)))
        self._speak(uid, interphone, on, queue=queue, emergency=emergency)

    @precondition(lambda self: bool(self._contenders()))
    @rule(data=st.data(), queue=st.sampled_from([True, True, False]),
          emergency=st.sampled_from([False, False, False, True]))
    def member_contends(self, data: st.DataObject, queue: bool, emergency: bool) -> None:
        """A member asks for a floor someone else holds: queued, pre-empting or 409."""
        uid, interphone = data.draw(st.sampled_from(self._contenders()))
        self._speak(uid, interphone, True, queue=queue, emergency=emergency)

    @precondition(lambda self: bool(self._holders()))
    @rule(data=st.data())
    def holder_lets_go(self, data: st.DataObject) -> None:
        uid, interphone = data.draw(st.sampled_from(self._holders()))
        self._speak(uid, interphone, False, queue=False, emergency=False)

    @precondition(lambda self: bool(self._pairs(members=True)))
    @rule(data=st.data(), raise_=st.booleans())
    def member_emergency(self, data: st.DataObject, raise_: bool) -> None:
        uid, interphone = data.draw(st.sampled_from(self._pairs(members=True)))
        self._emergency(uid, interphone, raise_)

    # ---- presence ------------------------------------------------------------------------

    @rule(uid=users)
    def presence_sync(self, uid: str) -> None:
        self._as(uid, PresenceSyncRequest())

    @rule(uid=users, interphone=st.sampled_from([i for i in INTERPHONES if i.kind.value == "chat"]),
          action=st.sampled_from(list(CallAction)))
    def call(self, uid: str, interphone: InterphoneId, action: CallAction) -> None:
        self._as(uid, CallRequest(action, interphone))

    # ---- media ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self._pairs(members=True)))
    @rule(data=st.data(), port=st.sampled_from([5000, 5001]),
          ip=st.sampled_from(["127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"]))
    def member_recvbegin(self, data: st.DataObject, port: int, ip: str) -> None:
        """A base recvbegin of a member, from its signaling peer's IP (or spoofed from
        another: PROTOCOL.md 5.1, never registered)."""
        uid, interphone = data.draw(st.sampled_from(self._pairs(members=True)))
        self.check.recvbegin(uid, str(interphone), (ip, port))

    @precondition(lambda self: bool(self._holders()))
    @rule(data=st.data(), port=st.sampled_from([5000, 5001]))
    def holder_talks(self, data: st.DataObject, port: int) -> None:
        uid, interphone = data.draw(st.sampled_from(self._holders()))
        self.check.audio(uid, str(interphone), ("127.0.0.1", port), self.now)

    def _media_pairs(self, *, holders: bool = False) -> list[tuple[str, InterphoneId]]:
        """(uid, interphone) of members whose session holds media-auth (holding the floor)."""
        state = self.state
        return [(uid, i) for uid, i in self._pairs(members=True)
                if "media-auth" in state.sessions[state.by_uid[uid]].features
                and (not holders or state.interphones[i].holder == uid)]

    @rule(data=st.data(), port=st.sampled_from([5000, 5001]),
          member=st.sampled_from([True, True, True, False]),
          ip=st.sampled_from(["127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"]),
          stale_secret=st.sampled_from([False, False, False, True]),
          replay=st.sampled_from([False, False, False, True]))
    def auth_recvbegin(self, data: st.DataObject, port: int, member: bool, ip: str,
                       stale_secret: bool, replay: bool) -> None:
        """media-auth: a recvbegin of a member (or anyone) signed with the session's secret
        (or one of an ended session), a fresh counter (or one accepted before), from its IP
        (or another)."""
        pairs = self._media_pairs()
        if member and pairs:
            uid, interphone = data.draw(st.sampled_from(pairs))
        else:
            uid, interphone = data.draw(users), data.draw(interphones)
        self.check.ext.auth_recvbegin(uid, interphone, (ip, port), stale_secret=stale_secret,
                                      replay=replay, views=self.check.views)

    @precondition(lambda self: bool(self._media_pairs()))
    @rule(data=st.data(), port=st.sampled_from([5000, 5000, 5000, 5001]),
          holder=st.sampled_from([True, True, True, False]),
          old_epoch=st.sampled_from([False, False, False, True]),
          old_grant=st.sampled_from([False, False, False, True]), register=st.booleans())
    def sealed_audio(self, data: st.DataObject, port: int, holder: bool, old_epoch: bool,
                     old_grant: bool, register: bool) -> None:
        """media-auth: sealed audio of a holder (or a member) under the key and grant it was
        told (or the ones before), maybe just after it registers."""
        pairs = self._media_pairs(holders=holder) or self._media_pairs()
        uid, interphone = data.draw(st.sampled_from(pairs))
        if register:
            self.check.ext.auth_recvbegin(uid, interphone, ("127.0.0.1", 5000),
                                          stale_secret=False, replay=False,
                                          views=self.check.views)
        self.check.ext.sealed_audio(uid, interphone, ("127.0.0.1", port), old_epoch=old_epoch,
                                    old_grant=old_grant, views=self.check.views)

    @precondition(lambda self: bool(self._pairs(members=True)))
    @rule(data=st.data(), about_holder=st.sampled_from([True, True, True, False]),
          loss=st.sampled_from([0.0, 0.3, 0.8, 4.8, 10.0, 60.0, 100.0]),
          jitter=st.sampled_from([0.0, 17.25, 40.0]))
    def listener_reports(self, data: st.DataObject, about_holder: bool, loss: float,
                         jitter: float) -> None:
        """feedback: a member reports what it hears of the holder (or of someone else)."""
        pairs = self._pairs(members=True)
        heard = [(uid, i) for uid, i in pairs if self.state.interphones[i].holder not in ("", uid)]
        uid, interphone = data.draw(st.sampled_from(heard if about_holder and heard else pairs))
        record = self.state.interphones[interphone]
        speaker = record.holder if about_holder and record.holder else data.draw(users)
        self._report(uid, QualityReport(interphone, speaker, loss, jitter))

    @rule(uid=users, interphone=interphones, speaker=users)
    def anyone_reports(self, uid: str, interphone: InterphoneId, speaker: str) -> None:
        self._report(uid, QualityReport(interphone, speaker, 5.0))

    def _report(self, uid: str, report: QualityReport) -> None:
        """The answer is checked (and the report kept in the model) before the notice it may
        cause is."""
        for _ in range(len(USERS) + 1):  # its answer waits behind deferred syncs otherwise
            self.next_turn()
        sid = self._sid_of(uid)
        peer = self.state.peers.get(sid) if sid is not None else None
        if sid is None or peer is None or peer.lost or peer.closing \
                or sid in self.state.deferred_sids:
            return
        seq = str(next(self.seqs))
        outbox = self.state.receive_data(sid, request_frame(seq, report), self.now)
        answers = [m.body for s, m in outbox.messages if s == sid and m.seq == seq]
        assert len(answers) == 1, outbox.messages
        self.check.ext.reported(sid, report, answers[0], self.now)
        self.check.step(outbox, now=self.now)

    # ---- the clock -----------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 4.0, 6.0, 20.0, 40.0]))
    def time_passes(self, seconds: float) -> None:
        self.now = self.check.run_clock(self.now + seconds)

    @rule()
    def everyone_leaves(self) -> None:
        """Every connection ends; once the timers have run, nothing is left over."""
        for sid in sorted(self.check.open_sids(self.state) | self.check.closing_sids(self.state)):
            self.check.step(self.state.disconnect(sid), now=self.now)
            self.check.disconnected(sid)
        for _ in range(len(USERS) + 1):  # the socket layer's next turns (tcp.py)
            self.next_turn()
        self.now = self.check.run_clock(self.now + 1.0, drain=True)
        self.check.nothing_left()

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def rules_hold(self) -> None:
        self.check.invariants()


TestServerStateMachine = fuzz_machine(ServerStateMachine)


class OpenServerStateMachine(ServerStateMachine):
    """The same with ``auth = "open"``: a uid in no directory logs in (any token), is in
    every group of ``"*"`` and may chat with anyone; a reload removes nobody."""

    settings = OPEN_SETTINGS


TestOpenServerStateMachine = fuzz_machine(OpenServerStateMachine)
