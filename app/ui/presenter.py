"""The presenter: client-model events in, view updates out; view intents in, client calls out.

The only object that knows both the views and the client. Model events arrive
on the asyncio loop's thread, which with qasync is the Qt thread, so views are
updated directly. Coroutines started from slots go through a :class:`TaskSet`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from PySide6.QtCore import QObject, QTimer

from app.audio.mixer import stream_key
from app.audio.talker_stream import TalkerQuality
from app.client import (
    CallState,
    ConnectionChanged,
    ConnectionState,
    ContactPresenceChanged,
    FloorChanged,
    FloorState,
    IncomingCall,
    IncomingCallEnded,
    InterphoneClient,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    JoinedSetChanged,
    JoinedSpeakerChanged,
    MembersChanged,
    ModelEvent,
    NotConnected,
    OutgoingCallChanged,
    RosterChanged,
    SpeakerChanged,
)
from app.client.feedback import QualityReporter
from app.client.replay import ReplayStore
from app.client.tasks import TaskSet
from app.client.turn import (
    EndReason,
    TurnConfig,
    TurnMachine,
    TurnTone,
    TurnViewKind,
)
from app.client.turn_driver import TurnDriver
from app.protocol import AttachType, InterphoneId, other_party
from app.protocol.features import EMERGENCY, FLOOR_QUEUE
from app.protocol.messages import FeedbackNotice
from app.ui.audio_link import TURN_TONES, AudioPort, Tone
from app.ui.floor_text import end_reason_text
from app.ui.floor_widgets import ReplayItem
from app.ui.interphone_mix import format_mix, parse_mix
from app.ui.main_window import MainWindow
from app.ui.replay_player import ReplayPlayer
from app.ui.settings import Settings
from app.ui.view_types import InterphoneRow, LinkState, Reception, RowKind, TalkState

logger = logging.getLogger(__name__)

_KINDS = {AttachType.GROUP: RowKind.GROUP, AttachType.DISCUSS: RowKind.DISCUSS,
          AttachType.CHAT: RowKind.CHAT}
_LINKS = {ConnectionState.DISCONNECTED: LinkState.OFFLINE,
          ConnectionState.CONNECTING: LinkState.CONNECTING,
          ConnectionState.CONNECTED: LinkState.CONNECTED,
          ConnectionState.RECONNECTING: LinkState.RECONNECTING,
          ConnectionState.KICKED: LinkState.OFFLINE,
          ConnectionState.REFUSED: LinkState.OFFLINE,
          ConnectionState.CLOSED: LinkState.OFFLINE}
RING_REPEAT_MS = 3000  # the incoming-call cue repeats while a call rings (extension presence)
_TALK_STATES = {TurnViewKind.IDLE: TalkState.IDLE, TurnViewKind.REQUESTING: TalkState.REQUESTING,
                TurnViewKind.TALKING: TalkState.TALKING, TurnViewKind.QUEUED: TalkState.QUEUED,
                TurnViewKind.BUSY: TalkState.BUSY, TurnViewKind.DENIED: TalkState.DENIED,
                TurnViewKind.PREEMPTED: TalkState.IDLE, TurnViewKind.REVOKED: TalkState.IDLE}
EMERGENCY_REPEAT_MS = 2500
LEVEL_POLL_MS = 50
QUALITY_POLL_MS = 250  # report what we hear to the talker (extension feedback) when due
RECEPTION_EVERY = 4  # ... and show it every 4th poll (once a second)


class Presenter(QObject):
    """Binds one signed-in :class:`InterphoneClient` (and its audio) to the main window."""

    def __init__(self, window: MainWindow, client: InterphoneClient, audio: AudioPort | None,
                 settings: Settings) -> None:
        super().__init__(window)
        self.window = window
        self.client = client
        self.model = client.model
        self.audio = audio
        self.settings = settings
        self.tasks = TaskSet(self._on_task_error)
        self._selected = ""
        self._names: dict[str, str] = {}
        self._speaker_seen: dict[str, tuple[str, float]] = {}  # id -> (uid, since)
        self._last_spoke: dict[str, tuple[str, str]] = {}  # id -> (uid, "HH:MM:SS")
        self._transmitting = False
        self.talk = TurnDriver(client, config=self._turn_config,
                               on_transmit=self._set_transmitting, on_tone=self._turn_tone,
                               wait_drained=self._wait_drained, on_ended=self._turn_ended,
                               on_change=self._show_talk)
        """The one floor state machine and its driver: presses, release delay, requests,
        the place in line, revocations, cues, the view."""
        self._deadline: float | None = None
        self.received: Counter[str] = Counter()  # audio packets heard, by speaker
        # joined interphone -> percent, and the muted ones (kept in the settings)
        self.interphone_volume, self.interphone_muted = parse_mix(settings.interphone_mix)
        self._active: dict[str, str] = {}  # joined, non-target interphone -> who speaks
        self._ringing = QTimer(self)  # repeats the ring while model.incoming_calls is not empty
        self._ringing.setInterval(RING_REPEAT_MS)
        self._ringing.timeout.connect(self._ring_again)
        self.replay = ReplayStore()
        """The last 10 minutes of received transmissions (8 MiB at most), for replay."""
        self._replay_shown = -1  # the transmission number last listed
        self._player = ReplayPlayer(self)
        self._alarm = QTimer(self)  # the repeating emergency alert
        self._alarm.setInterval(EMERGENCY_REPEAT_MS)
        self._alarm.timeout.connect(lambda: self._tone(Tone.EMERGENCY))
        self._emergency = ("", "")  # (interphone, raiser) the banner shows

        self._unsubscribe = self.model.subscribe(self._on_event)
        client.on_interphone_audio = self._on_audio
        client.on_feedback = self._on_feedback
        self._reporter = QualityReporter(client, self._receive_quality, key=stream_key)
        self._fec_recovered: dict[str, int] = {}  # speaker -> FEC-recovered frames seen
        self._quality_polls = 0
        client.audio_sink = self._play_audio  # the media thread feeds the mixer directly
        window.talk_pressed.connect(self.press_talk)
        window.talk_released.connect(self.release_talk)
        window.selection_changed.connect(self.select)
        window.join_requested.connect(self.join)
        window.leave_requested.connect(self.leave)
        window.volume_changed.connect(self._on_volume)
        window.mute_toggled.connect(self._on_mute)
        window.call_dismissed.connect(self.decline)
        window.panel.mix.talk_here_requested.connect(self.talk_here)
        window.panel.mix.volume_changed.connect(self.set_interphone_volume)
        window.panel.mix.mute_toggled.connect(self.set_interphone_muted)
        window.replay_last_requested.connect(self.replay_last)
        window.panel.replay.play_requested.connect(self.play_replay)
        window.emergency.cancel_requested.connect(self.cancel_emergency)
        window.emergency_requested.connect(self.raise_emergency)

        window.set_me(self.model.uid)
        window.set_talk_key(settings.talk_key)
        window.audio_bar.set_volume(settings.volume)
        window.audio_bar.set_muted(settings.muted)
        if audio is not None:
            audio.set_volume(settings.volume / 100)
            audio.set_muted(settings.muted)
            for interphone_id in set(self.interphone_volume) | self.interphone_muted:
                self._apply_interphone_gain(interphone_id)
        self._levels = QTimer(self)
        self._levels.setInterval(LEVEL_POLL_MS)
        self._levels.timeout.connect(self._poll_levels)
        self._link_clock = QTimer(self)  # refreshes "reconnecting (attempt n)"
        self._link_clock.setInterval(500)
        self._link_clock.timeout.connect(self._show_link)
        self._loss = QTimer(self)
        self._loss.setInterval(QUALITY_POLL_MS)
        self._loss.timeout.connect(self._follow_quality)
        if audio is not None:
            self._levels.start()
            self._loss.start()
        self.refresh()

    def display_names(self) -> dict[str, str]:
        """Contacts' names by uid, from the roster (uids without a name are left out)."""
        return {entry.id: entry.name for entry in self.model.contacts if entry.name}

    # --- whole-view refresh ----------------------------------------------------------------
    def refresh(self) -> None:
        self.window.set_names(self.display_names())
        self._show_link()
        self._show_rows()
        if not self._selected and self.model.joined is not None:
            self._selected = str(self.model.joined)
        self._show_selected()
        self._show_talk()
        self._show_title()

    def rows(self) -> list[InterphoneRow]:
        """Every roster entry, plus live chats with people outside the roster."""
        model, me = self.model, self.model.uid
        joined = str(model.joined) if model.joined is not None else ""
        rows: list[InterphoneRow] = []
        seen: set[str] = set()
        entries = [(InterphoneId.group(e.id), e.name) for e in model.groups]
        entries += [(InterphoneId.discuss(e.id), e.name) for e in model.discussions]
        entries += [(InterphoneId.chat(me, e.id), e.name or e.id) for e in model.contacts
                    if e.id != me]
        for interphone, name in entries:
            rows.append(self._row(interphone, name, joined))
            seen.add(str(interphone))
        for interphone in model.interphones:
            if str(interphone) not in seen:
                peer = (interphone.peer if interphone.key == me else interphone.key) \
                    if interphone.kind is AttachType.CHAT else interphone.key
                rows.append(self._row(interphone, peer or str(interphone), joined))
        self._names = {row.id: row.name for row in rows}
        return rows

    def _row(self, interphone: InterphoneId, name: str, joined: str) -> InterphoneRow:
        """``joined``: the talk target's id; other joined interphones are listened to."""
        info = self.model.interphone(interphone)
        key = str(interphone)
        speaker = self.model.speaker if key == joined else (info.speaker if info else "")
        online = None
        if interphone.kind is AttachType.CHAT and interphone.involves(self.model.uid):
            online = self.model.is_online(other_party(interphone, self.model.uid))
        return InterphoneRow(id=key, kind=_KINDS[interphone.kind], name=name,
                             member_count=info.member_count if info else 0,
                             speaker=speaker or "", joined=self.model.is_joined(interphone),
                             talk_target=key == joined, active=key in self._active,
                             online=online)

    # --- model events ----------------------------------------------------------------------
    def _on_event(self, event: ModelEvent) -> None:
        if isinstance(event, ConnectionChanged):
            if event.state is ConnectionState.RECONNECTING:
                self._link_clock.start()
            else:
                self._link_clock.stop()
            self._show_link()
            self._show_talk()
            self._show_rows()
            self._show_selected()
            if event.state.final or event.state is ConnectionState.RECONNECTING:
                self._stop_transmitting()  # (the driver tells the machine)
        elif isinstance(event, RosterChanged | InterphoneUpdated | InterphoneEnded):
            if isinstance(event, RosterChanged):
                self.window.set_names(self.display_names())
            if isinstance(event, InterphoneUpdated | InterphoneEnded):
                self._note_speaker(str(event.id))
                if isinstance(event, InterphoneEnded):
                    self.window.clear_incoming_call(str(event.id))
            self._show_rows()
            self._show_selected()
        elif isinstance(event, JoinedChanged):
            if event.id is not None:
                self._selected = str(event.id)
                self.window.clear_incoming_call(str(event.id))
            self._show_rows()
            self._show_selected()
            self._show_talk()
            self._show_title()
        elif isinstance(event, MembersChanged):
            self._show_selected()
        elif isinstance(event, SpeakerChanged):
            self._on_speaker(event)
        elif isinstance(event, FloorChanged):
            self._on_floor(event)
        elif isinstance(event, IncomingCall):
            self.window.notify_incoming_call(str(event.id),
                                             self.window.display_name(event.from_uid))
            self._tone(Tone.INCOMING_CALL)
            if self.model.incoming_calls:
                self._ringing.start()
        elif isinstance(event, JoinedSetChanged):
            self._active = {k: v for k, v in self._active.items()
                            if self.model.is_joined(k) and k != str(self.model.talk_target)}
            self._show_rows()
            self._show_selected()
        elif isinstance(event, JoinedSpeakerChanged):
            self._on_activity(event)
        elif isinstance(event, ContactPresenceChanged):
            self._show_rows()
            self._show_selected()
        elif isinstance(event, OutgoingCallChanged):
            self._on_outgoing_call(event)
        elif isinstance(event, IncomingCallEnded):
            if not self.model.incoming_calls:
                self._ringing.stop()
            self.window.clear_incoming_call(str(event.id))
            if event.reason in ("cancelled", "no_answer"):
                self.window.show_message(self.tr("Missed call from %1").replace(
                    "%1", self.window.display_name(event.from_uid)), 8000)

    def _on_activity(self, event: JoinedSpeakerChanged) -> None:
        """Someone speaks (or stops) in a joined interphone other than the talk target:
        a distinct short cue, a highlighted row, and a tray note when the window is hidden."""
        key = str(event.id)
        previous = self._active.pop(key, "")
        if previous and self.audio is not None:
            self.audio.end_utterance(previous, key)
        if event.uid and event.uid != self.model.uid:
            self._active[key] = event.uid
            if key not in self.interphone_muted:
                self._tone(Tone.ACTIVITY)
            self.window.notify_activity(key, self._names.get(key, key),
                                        self.window.display_name(event.uid))
        self._note_speaker(key)
        self._show_rows()
        if key == self._selected:
            self._show_selected()

    def _ring_again(self) -> None:
        if self.model.incoming_calls:
            self._tone(Tone.INCOMING_CALL)
        else:
            self._ringing.stop()

    def _on_outgoing_call(self, event: OutgoingCallChanged) -> None:
        who = self.window.display_name(event.to_uid)
        text = {CallState.RINGING: self.tr("Calling %1…"),
                CallState.ANSWERED: self.tr("%1 answered"),
                CallState.DECLINED: self.tr("%1 declined the call"),
                CallState.NO_ANSWER: self.tr("No answer from %1"),
                CallState.OFFLINE: self.tr("%1 is offline"),
                CallState.CANCELLED: self.tr("Call to %1 cancelled")}[event.state]
        self.window.show_message(text.replace("%1", who), 30000 if event.state is
                                 CallState.RINGING else 8000)

    def _on_speaker(self, event: SpeakerChanged) -> None:
        key = str(event.id)
        self.replay.close(key)
        previous = self._speaker_seen.get(key, ("", 0.0))[0]
        if previous and previous != event.uid:
            self._last_spoke[key] = (previous, time.strftime("%H:%M:%S"))
            if self.audio is not None and previous != self.model.uid:
                self.audio.end_utterance(previous, key)
                if not event.uid:
                    self._tone(Tone.END_OF_TRANSMISSION)
        if event.uid:
            self._speaker_seen[key] = (event.uid, event.since)
        else:
            self._speaker_seen.pop(key, None)
        self._show_rows()
        self._show_selected()
        self._show_talk()
        self._show_title()

    def _note_speaker(self, key: str) -> None:
        """Remember when a speaker was first seen in an interphone we only watch."""
        if self.model.joined is not None and str(self.model.joined) == key:
            return
        info = self.model.interphone(key)
        speaker = info.speaker if info is not None else ""
        previous = self._speaker_seen.get(key, ("", 0.0))[0]
        if previous and previous != speaker:
            self._last_spoke[key] = (previous, time.strftime("%H:%M:%S"))
        if speaker and speaker != previous:
            self._speaker_seen[key] = (speaker, time.monotonic())
        elif not speaker:
            self._speaker_seen.pop(key, None)

    def _on_floor(self, event: FloorChanged) -> None:
        if event.state is FloorState.TALKING:
            self._deadline = time.monotonic() + self.model.max_talk
        else:
            self._deadline = None
        self._show_talk()

    def _on_audio(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        """Audio of any joined interphone, on the loop (in batches: ``_play_audio`` plays)."""
        self.received[uid] += 1
        if self.audio is not None and self.client.audio_sink != self._play_audio:
            self.audio.receive(uid, seq, payload, str(interphone))
        number = self.replay.add_frame(str(interphone), uid, seq, payload, time.monotonic())
        if number and number != self._replay_shown:
            self._replay_shown = number
            self._show_replay()

    # --- instant replay --------------------------------------------------------------------
    def replay_items(self, interphone_id: str) -> list[ReplayItem]:
        now, wall = time.monotonic(), time.time()
        return [ReplayItem(t.number, self.window.display_name(t.speaker),
                           time.strftime("%H:%M:%S", time.localtime(wall - (now - t.started_at))),
                           t.duration, t.heard, t.receiving)
                for t in self.replay.transmissions(interphone_id, now)]

    def _show_replay(self) -> None:
        self.window.panel.replay.set_items(self.replay_items(self._selected)
                                           if self._selected else [])

    def play_replay(self, number: int) -> None:
        """Play a stored transmission again (lost packets concealed)."""
        frames = self.replay.playback(number)
        self.replay.mark_heard(number)
        self._show_replay()
        if self.audio is not None:
            self._player.play(frames, self.audio)

    def replay_last(self) -> None:
        last = self.replay.last(self._selected or None, time.monotonic())
        if last is not None:
            self.play_replay(last.number)

    @property
    def replaying(self) -> bool:
        return self._player.active

    # --- emergency -------------------------------------------------------------------------
    def _show_emergency(self) -> None:
        """The banner and the repeating alert follow the selected or joined interphone's
        ``emergency`` (who raised it; extension ``emergency``)."""
        raised: tuple[str, str] = ("", "")
        for key in (self._selected, str(self.model.joined or "")):
            info = self.model.interphone(key) if key else None
            raiser = info.emergency if info is not None else ""
            if raiser:
                raised = (key, raiser)
                break
        if raised == self._emergency:
            return
        self._emergency = raised
        banner = self.window.emergency
        if not raised[1]:
            banner.clear()
            self._alarm.stop()
            return
        can_cancel = raised[1] == self.model.uid or self._is_dispatcher()
        banner.show_emergency(raised[0], self.window.display_name(raised[1]), can_cancel)
        self._tone(Tone.EMERGENCY)
        self._alarm.start()

    def _is_dispatcher(self) -> bool:
        return self.client.dispatcher

    def raise_emergency(self) -> None:
        """Raise an emergency on the joined interphone (extension ``emergency``)."""
        if self.model.joined is not None and EMERGENCY in self.client.features:
            self.tasks.spawn(self.client.raise_emergency(self.model.joined), "emergency")

    def cancel_emergency(self, interphone_id: str) -> None:
        if interphone_id:
            self.tasks.spawn(self.client.cancel_emergency(interphone_id), "emergency")

    def _play_audio(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        """In the client's media receive thread: each interphone mixed with its own volume."""
        audio = self.audio
        if audio is not None:
            audio.receive_from_thread(uid, seq, payload, str(interphone))

    # --- view intents ----------------------------------------------------------------------
    def select(self, interphone_id: str) -> None:
        self._selected = interphone_id
        self.replay.select(interphone_id)
        self._show_replay()
        self._show_selected()
        self._show_talk()
        info = self.model.interphone(interphone_id) if interphone_id else None
        joined = self.model.joined is not None and str(self.model.joined) == interphone_id
        if info is not None and info.members is None and not joined and self._online():
            self.tasks.spawn(self.client.members(interphone_id), "members")

    def join(self, interphone_id: str) -> None:
        """Join one more interphone (the others stay joined); it becomes the talk target.
        A joined one (e.g. a double-click) only becomes the talk target."""
        self._selected = interphone_id
        self._show_selected()
        if not self._online():
            self.window.show_message(self._offline_text(), 8000)
            return
        if self.model.is_joined(interphone_id):
            self.talk_here(interphone_id)
            return
        self.tasks.spawn(self._join(interphone_id), "join")

    async def _join(self, interphone_id: str) -> None:
        self._reset_turn()
        interphone = InterphoneId.parse(interphone_id)
        if interphone.kind is AttachType.CHAT and interphone.involves(self.model.uid) \
                and interphone not in self.model.incoming_calls:
            await self.client.call(other_party(interphone, self.model.uid))
        else:
            await self.client.join(interphone)

    def talk_here(self, interphone_id: str) -> None:
        """Make a joined interphone the talk target (ends a turn in the old one)."""
        if self.model.talk_target is not None and str(self.model.talk_target) == interphone_id:
            return
        self._reset_turn()
        self.tasks.spawn(self.client.set_talk_target(interphone_id), "talk target")

    def leave(self, interphone_id: str) -> None:
        if self.model.talk_target is not None and str(self.model.talk_target) == interphone_id:
            self._reset_turn()
        self.tasks.spawn(self.client.leave(interphone_id or None), "leave")

    def decline(self, interphone_id: str) -> None:
        """The incoming-call banner was dismissed: tell the caller (extension presence)."""
        if interphone_id and self._online():
            self.tasks.spawn(self.client.decline(interphone_id), "decline")

    def set_interphone_volume(self, interphone_id: str, percent: int) -> None:
        self.interphone_volume[interphone_id] = percent
        self._apply_interphone_gain(interphone_id)

    def set_interphone_muted(self, interphone_id: str, muted: bool) -> None:
        if muted:
            self.interphone_muted.add(interphone_id)
        else:
            self.interphone_muted.discard(interphone_id)
        self._apply_interphone_gain(interphone_id)

    def _apply_interphone_gain(self, interphone_id: str) -> None:
        self.settings.interphone_mix = format_mix(self.interphone_volume, self.interphone_muted)
        if self.audio is not None:
            muted = interphone_id in self.interphone_muted
            percent = self.interphone_volume.get(interphone_id, 100)
            self.audio.set_interphone_volume(interphone_id, 0.0 if muted else percent / 100)
    def press_talk(self) -> None:
        """Talk intent (button or key): talks into the talk target, whichever row is
        selected (looking at another row never drops the talk target).

        Every press and release goes to the turn machine (:attr:`talk`); it debounces
        auto-repeat (one physical press, at most one request) and runs the release delay."""
        """Talk intent (button or key). Ignored unless the selected interphone is the joined one.

        Every press and release goes to the turn machine (:attr:`talk`); it debounces
        auto-repeat (one physical press, at most one request) and runs the release delay."""
        if not self._can_talk():
            return
        if self.window.panel.talk_button.state is TalkState.BUSY:
            self.window.panel.talk_button.show_refused()
        self.talk.press()

    def release_talk(self) -> None:
        self.talk.release()

    @property
    def turn(self) -> TurnMachine:
        return self.talk.machine

    @property
    def talk_in_progress(self) -> bool:
        """A turn is running: asking for the floor, waiting in line, talking or releasing."""
        return self.talk.busy

    # --- the turn driver's callbacks -------------------------------------------------------
    def _turn_config(self) -> TurnConfig:
        """Wait in line when the floor is busy wherever the server offers it."""
        return TurnConfig(max_talk=float(self.model.max_talk or 60),
                          release_delay=max(0, self.settings.release_delay_ms) / 1000,
                          queue=FLOOR_QUEUE in self.client.features)

    def _set_transmitting(self, on: bool) -> None:
        if on:
            self._transmitting = True
            if self.audio is not None:
                self.audio.start_transmit()
        else:
            self._stop_transmitting()

    async def _wait_drained(self, timeout: float) -> None:
        if self.audio is not None:
            await self.audio.wait_transmit_stopped(timeout)

    def _turn_tone(self, tone: TurnTone) -> None:
        self._tone(TURN_TONES[tone])

    def _turn_ended(self, reason: EndReason, by: str) -> None:
        self.window.show_message(end_reason_text(reason,
                                                 self.window.display_name(by) if by else ""))

    def _reset_turn(self) -> None:
        """Leaving or switching interphones: stop sending and start from a fresh machine
        (quitting releases the floor at the server)."""
        self.talk.reset()

    def _stop_transmitting(self) -> None:
        if self._transmitting:
            self._transmitting = False
            if self.audio is not None:
                self.audio.stop_transmit()

    def _can_talk(self) -> bool:
        return self._online() and self.model.talk_target is not None

    def _online(self) -> bool:
        return self.model.connection is ConnectionState.CONNECTED

    def _on_volume(self, percent: int) -> None:
        self.settings.volume = percent
        if self.audio is not None:
            self.audio.set_volume(percent / 100)

    def _on_mute(self, muted: bool) -> None:
        self.settings.muted = muted
        if self.audio is not None:
            self.audio.set_muted(muted)

    def _on_task_error(self, exc: BaseException) -> None:
        if isinstance(exc, NotConnected):
            self.window.show_message(self._offline_text(), 8000)
            return
        self.window.show_message(self.tr("Request failed: %1").replace("%1", str(exc)), 8000)

    def _offline_text(self) -> str:
        if self.model.connection is ConnectionState.KICKED:
            return self.tr("Not connected: you signed in elsewhere. Press Reconnect to "
                           "continue here.")
        if self.model.connection is ConnectionState.RECONNECTING:
            return self.tr("Not connected yet: reconnecting…")
        return self.tr("Not connected to the server.")

    # --- view updates ----------------------------------------------------------------------
    def _show_link(self) -> None:
        state = self.model.connection
        detail = ""
        if state is ConnectionState.KICKED:
            detail = self.tr("signed in elsewhere")
        elif state is ConnectionState.REFUSED:
            detail = self.tr("sign-in refused")
        elif state is ConnectionState.RECONNECTING:
            failed = self.client.stats.reconnect_attempts
            if failed:
                detail = self.tr("attempt %1").replace("%1", str(failed + 1))
        self.window.set_link(_LINKS[state], detail)
        self.window.offer_reconnect(state in (ConnectionState.KICKED,
                                              ConnectionState.DISCONNECTED))

    def _show_rows(self) -> None:
        self.window.interphones.set_offline(not self._online())
        self.window.set_rows(self.rows())

    def _show_selected(self) -> None:
        window, model = self.window, self.model
        row = window.interphones.row(self._selected) if self._selected else None
        window.show_interphone(row)
        panel = window.panel
        panel.set_offline(not self._online())
        if row is None:
            return
        panel.mix.set_row(row, self.interphone_volume.get(row.id, 100),
                          row.id in self.interphone_muted)
        if row.talk_target:
            panel.set_members(list(model.members))
            panel.set_speaker(model.speaker, model.speaker_since)
        else:
            info = model.interphone(row.id)
            if info is not None and info.members is not None:
                panel.set_members(list(info.members))
            seen = self._speaker_seen.get(row.id)
            panel.set_speaker(row.speaker, seen[1] if seen and seen[0] == row.speaker else None)
        last = self._last_spoke.get(row.id)
        panel.set_last_speaker(*(last or ("", "")))
        self._show_emergency()

    def _show_talk(self) -> None:
        model = self.model
        if not self._online():
            state, holder, detail = TalkState.OFFLINE, "", ""
        elif model.talk_target is None:
            state, holder, detail = TalkState.NOT_JOINED, "", ""
        else:
            view = self.turn.view(time.monotonic())
            state = _TALK_STATES[view.kind]
            holder = self.window.display_name(view.holder or model.floor_holder
                                              or model.speaker)
            detail = ""
            if view.kind is TurnViewKind.QUEUED:
                detail = str(view.position)
            if (state in (TalkState.IDLE, TalkState.REQUESTING) and model.speaker
                    and model.speaker != model.uid):
                state = TalkState.BUSY
            if state is TalkState.DENIED:
                detail = self.tr("You may not talk here")
            elif str(model.talk_target) != self._selected:  # looking at another row
                detail = self.tr("Talks into %1").replace(
                    "%1", self._names.get(str(model.talk_target), str(model.talk_target)))
        self.window.set_talk_state(state, holder, detail, self._deadline,
                                   float(model.max_talk))
        self.window.emergency_action.setEnabled(
            self._online() and model.joined is not None and EMERGENCY in self.client.features)

    def _show_title(self) -> None:
        joined = self.model.joined
        name = self._names.get(str(joined), str(joined)) if joined is not None else ""
        self.window.set_speaking(name, self.model.speaker if joined is not None else "")

    def set_level_polling(self, on: bool) -> None:
        """Poll the level meters only while an audio stream runs (idle: no 20 Hz timer)."""
        if on and self.audio is not None:
            self._levels.start()
        else:
            self._levels.stop()
            self.window.audio_bar.set_levels(0.0, 0.0)

    def _poll_levels(self) -> None:
        if self.audio is not None:
            self.window.audio_bar.set_levels(*self.audio.levels())

    def _receive_quality(self) -> dict[str, TalkerQuality]:
        return dict(self.audio.receive_quality()) if self.audio is not None else {}

    def _follow_quality(self) -> None:
        """Report what we hear of the speaker when due (the talker's FEC follows the
        reports, docs/protocol-extensions.md "feedback"); show it each second."""
        self._reporter.tick(time.monotonic())
        self._quality_polls += 1
        if self._quality_polls % RECEPTION_EVERY:
            return
        speaker, target = self.model.speaker, self.model.talk_target
        quality = self._receive_quality().get(stream_key(speaker, str(target))) \
            if speaker and speaker != self.model.uid and target is not None else None
        if quality is None:
            self.window.panel.set_reception(None)
            return
        before = self._fec_recovered.get(speaker, quality.fec_recovered)
        self._fec_recovered = {speaker: quality.fec_recovered}
        self.window.panel.set_reception(Reception(
            speaker, quality.recent_loss_pct, quality.jitter_ms,
            fec_on=quality.fec_packets > 0,
            fec_repairing=quality.fec_recovered > before))

    def _on_feedback(self, notice: FeedbackNotice) -> None:
        """What our listeners lose (we hold the floor): the encoder's FEC policy follows."""
        if self.audio is not None:
            self.audio.report_loss(notice.worst_pct, notice.p90_pct)

    def _tone(self, tone: Tone) -> None:
        if self.audio is not None and self.settings.tones:
            self.audio.play_tone(tone)

    def set_audio(self, audio: AudioPort | None) -> None:
        """Use another audio engine (settings changed); None while it restarts."""
        self._stop_transmitting()
        self.audio = audio
        if audio is not None:
            audio.set_volume(self.settings.volume / 100)
            audio.set_muted(self.settings.muted)
            for interphone_id in set(self.interphone_volume) | self.interphone_muted:
                self._apply_interphone_gain(interphone_id)
            if self.turn.transmitting:  # still our turn: go on with the new device
                self._transmitting = True
                audio.start_transmit()
            self._levels.start()
            self._loss.start()
        else:
            self._levels.stop()
            self._loss.stop()

    # --- shutdown --------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop listening to the model and end what this presenter started."""
        self._levels.stop()
        self._loss.stop()
        self._link_clock.stop()
        self._ringing.stop()
        self._alarm.stop()
        self._player.stop()
        self._unsubscribe()
        if self.client.on_interphone_audio == self._on_audio:
            self.client.on_interphone_audio = None
        if self.client.on_feedback == self._on_feedback:
            self.client.on_feedback = None
        if self.client.audio_sink == self._play_audio:
            self.client.audio_sink = None
        self._stop_transmitting()
        await self.talk.close()
        await self.tasks.close()
