"""A model-based (stateful) test of the client's turn machine (app/client/turn.py): hypothesis
presses and releases the talk key (auto-repeat and debounce included), lets the clock run,
and plays a server that answers each request in order (granted, queued or refused), grants
from the line, lets a wait expire, revokes grants and drops the connection. After each step:
the machine transmits only while the server's grant is known to it and not given back; no
transmit after a disconnect; and once the key is up, the timers have run and the messages
have been delivered, the server holds nothing for it (a release always ends in a
``speak off``, or nothing was held).

Sized by tests/fuzzing.py: ``INTERPHONE_FUZZ_EXAMPLES`` (or ``--slow``) runs it long.
"""

from __future__ import annotations

from collections import deque

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.client.turn import (
    Action,
    Disconnected,
    EndReason,
    Granted,
    PlayTone,
    Press,
    Queued,
    QueueExpired,
    Refused,
    Release,
    Revoked,
    SendRelease,
    SendRequest,
    StartTransmit,
    StopTransmit,
    TransmitDrained,
    TurnConfig,
    TurnEvent,
    TurnMachine,
)

REVOKE_REASONS = [EndReason.TIME_LIMIT, EndReason.SILENCE, EndReason.PREEMPTED,
                  EndReason.SERVER, EndReason.SHUTDOWN]


class TurnMachineModel(RuleBasedStateMachine):
    """One interphone's turn against a server that keeps each connection's requests in order."""

    def __init__(self) -> None:
        super().__init__()
        self.config = TurnConfig(max_talk=20.0, release_delay=0.15, debounce=0.04,
                                 drain_timeout=1.0, queue=True)
        self.machine = TurnMachine(self.config)
        self.now = 0.0
        self.to_server: deque[tuple[int, SendRequest | SendRelease]] = deque()
        self.to_client: deque[tuple[int, TurnEvent]] = deque()
        self.requests = 0  # the number of the latest SendRequest
        self.given_up = False  # a SendRelease after it
        self.server_holds = False  # the server's view: this session holds the floor
        self.server_queued = False  # ... or waits in its line
        self.granted = False  # the client's view: a grant received, not ended nor released
        self.transmitting = False  # StartTransmit carried out, no StopTransmit since
        self.drain_pending = False  # a StopTransmit whose TransmitDrained is still to come
        self.server_request = 0  # the request the server's floor and line are about

    # ---- carrying out the machine's actions ------------------------------------------------

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case SendRequest():
                    assert self.machine.key_held, "a request with the key up"
                    self.requests += 1
                    self.given_up = False
                    self.to_server.append((self.requests, action))
                case SendRelease():
                    self.granted = False
                    self.given_up = True
                    self.to_server.append((self.requests, action))
                case StartTransmit():
                    assert self.granted, "transmitting without a grant"
                    assert not self.transmitting, "StartTransmit twice"
                    self.transmitting = True
                case StopTransmit():
                    assert self.transmitting, "StopTransmit while not transmitting"
                    self.transmitting = False
                    self.drain_pending = True
                case PlayTone():
                    pass

    def _feed(self, event: TurnEvent) -> None:
        if isinstance(event, Granted):
            self.granted = True
        elif isinstance(event, Revoked | Disconnected):
            self.granted = False
        self._carry_out(self.machine.handle(event, self.now))

    # ---- the user --------------------------------------------------------------------------

    @rule(dt=st.sampled_from([0.0, 0.01, 0.03, 0.05, 0.1, 0.2]), emergency=st.booleans())
    def press(self, dt: float, emergency: bool) -> None:
        self.now += dt
        self._feed(Press(emergency=emergency))

    @rule(dt=st.sampled_from([0.0, 0.01, 0.03, 0.05, 0.1, 0.2]))
    def release(self, dt: float) -> None:
        self.now += dt
        self._feed(Release())

    @rule(dt=st.sampled_from([0.01, 0.05, 0.2, 1.0, 2.0, 15.0]))
    def time_passes(self, dt: float) -> None:
        target = self.now + dt
        for _ in range(100):
            deadline = self.machine.next_deadline()
            if deadline is None or deadline > target:
                break
            self.now = max(self.now, deadline)
            self._carry_out(self.machine.handle_timer(self.now))
            after = self.machine.next_deadline()
            assert after is None or after > self.now, (after, self.now)
        self.now = target
        self._carry_out(self.machine.handle_timer(self.now))

    @precondition(lambda self: self.drain_pending)
    @rule()
    def audio_drained(self) -> None:
        self.drain_pending = False
        self._feed(TransmitDrained())

    # ---- the server ------------------------------------------------------------------------

    @precondition(lambda self: bool(self.to_server))
    @rule(answer=st.sampled_from(["grant", "queue", "busy", "denied"]))
    def server_answers(self, answer: str) -> None:
        """The server reads the next request; a ``speak on`` is answered at once, in order."""
        number, request = self.to_server.popleft()
        self.server_request = number
        if isinstance(request, SendRelease):
            self.server_holds = self.server_queued = False
            return
        if self.server_holds or answer == "grant":
            self.server_holds, self.server_queued = True, False
            self.to_client.append((number, Granted()))
        elif self.server_queued or (answer == "queue" and request.queue):
            self.server_queued = True  # asking again keeps the place (floor-queue)
            self.to_client.append((number, Queued()))
        else:
            self.to_client.append((number, Refused(busy=answer == "busy")))

    @precondition(lambda self: self.server_queued)
    @rule(expire=st.booleans())
    def server_line_moves(self, expire: bool) -> None:
        self.server_queued = False
        if expire:
            self.to_client.append((self.server_request, QueueExpired()))
        else:
            self.server_holds = True
            self.to_client.append((self.server_request, Granted()))

    @precondition(lambda self: self.server_holds)
    @rule(reason=st.sampled_from(REVOKE_REASONS))
    def server_revokes(self, reason: EndReason) -> None:
        self.server_holds = False
        self.to_client.append((self.server_request, Revoked(reason)))

    @precondition(lambda self: bool(self.to_client))
    @rule()
    def client_reads(self) -> None:
        """The client reads the next answer or notice. What is about a request the machine
        gave up (a later one sent, or a release since) the client layer does not pass on
        (app/client/client_floor.py: a ``granted`` notice counts only while the model
        waits in line, a ``revoked`` only while it talks; an answer only for the request
        in flight): the machine hears only of its own current request."""
        number, event = self.to_client.popleft()
        if number == self.requests and not self.given_up:
            self._feed(event)

    @rule()
    def connection_lost(self) -> None:
        """The session ends: the server forgets its floor and line; what was in flight is
        lost; the machine hears of it."""
        self.to_server.clear()
        self.to_client.clear()
        self.server_holds = self.server_queued = False
        self._feed(Disconnected())
        assert not self.machine.transmitting, "transmitting after a disconnect"

    # ---- invariants ------------------------------------------------------------------------

    @invariant()
    def transmits_only_while_granted(self) -> None:
        assert self.machine.transmitting == self.transmitting
        if self.transmitting:
            assert self.granted, f"transmitting in {self.machine.phase} without a grant"

    @invariant()
    def a_release_gives_everything_back(self) -> None:
        """Key up, every timer run, every message delivered: nothing held, nothing waiting."""
        machine = self.machine
        if (machine.key_held or machine.next_deadline() is not None or self.to_server
                or self.to_client):
            return
        assert not self.transmitting, machine.phase
        assert not self.server_holds, f"the floor is still held in {machine.phase}"
        assert not self.server_queued, f"still waiting in line in {machine.phase}"


TestTurnMachineModel = fuzz_machine(TurnMachineModel)
