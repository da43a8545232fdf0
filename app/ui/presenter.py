"""The presenter: client-model events in, view updates out; view intents in, client calls out.

The only object that knows both the views and the client. Model events arrive
on the asyncio loop's thread, which with qasync is the Qt thread, so views are
updated directly. Coroutines started from slots go through a :class:`TaskSet`.

:class:`Presenter` keeps the wiring, the dispatch of model events, the view intents
about interphones, and the view updates; its other parts are mixins over
:class:`~app.ui.presenter_core.PresenterCore`: audio (:mod:`app.ui.presenter_audio`), the
turn (:mod:`app.ui.presenter_turn`), speakers (:mod:`app.ui.presenter_speakers`), instant
replay (:mod:`app.ui.presenter_replay`), emergencies (:mod:`app.ui.presenter_emergency`)
and calls (:mod:`app.ui.presenter_calls`); the rows are built by
:mod:`app.ui.presenter_rows`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer

from app.audio.mixer import stream_key
from app.client import (
    ClientError,
    ConnectionChanged,
    ConnectionState,
    ContactPresenceChanged,
    EmergencyChanged,
    FloorChanged,
    IncomingCall,
    IncomingCallEnded,
    InterphoneClient,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    JoinedSetChanged,
    JoinedSpeakerChanged,
    MediaPathChanged,
    MembersChanged,
    ModelEvent,
    NotAllowed,
    NotConnected,
    OutgoingCallChanged,
    RemovedFromInterphone,
    RosterChanged,
    SpeakerChanged,
    StoreChanged,
    StoreUnavailable,
)
from app.client.feedback import QualityReporter
from app.client.own_talks import OwnTalks
from app.client.replay import ReplayStore
from app.client.tasks import TaskSet
from app.client.turn_driver import TurnDriver
from app.protocol import AttachType, InterphoneId, other_party
from app.protocol.messages import ACCOUNT_REMOVED
from app.ui.audio_link import AudioPort, Tone
from app.ui.failure_text import error_text
from app.ui.interphone_mix import parse_mix
from app.ui.last_spoke import Turn
from app.ui.main_window import MainWindow
from app.ui.presenter_audio import PresenterAudio
from app.ui.presenter_calls import PresenterCalls
from app.ui.presenter_emergency import EMERGENCY_REPEAT_MS, NO_EMERGENCY, PresenterEmergency
from app.ui.presenter_link import PresenterLink
from app.ui.presenter_list import PresenterList
from app.ui.presenter_replay import PresenterReplay
from app.ui.presenter_rows import display_names
from app.ui.presenter_speakers import REPLAY_SETTLE_MS, PresenterSpeakers
from app.ui.presenter_turn import PresenterTurn
from app.ui.replay_player import ReplayPlayer
from app.ui.settings import TOGGLE, Settings
from app.ui.view_types import InterphoneRow

logger = logging.getLogger(__name__)

PRESENCE_REFRESH_MS = 250
"""Contacts' presence changes are shown this long after the first of them, together."""
RING_REPEAT_MS = 3000  # the incoming-call cue repeats while a call rings (extension presence)


@dataclass
class Heard:
    """What a session heard, handed to the next session of the same account (Reconnect
    after "signed in elsewhere"): the replays, with what is still unheard, and who last
    spoke in each interphone."""

    replay: ReplayStore = field(default_factory=ReplayStore)
    replay_started: dict[int, float] = field(default_factory=dict)
    """replay transmission number -> ``time.time()`` of its first packet"""
    last_spoke: dict[str, Turn] = field(default_factory=dict)
    """interphone id -> the last turn that ended there"""


class Presenter(PresenterAudio, PresenterTurn, PresenterSpeakers, PresenterReplay,
                PresenterEmergency, PresenterCalls, PresenterLink, PresenterList, QObject):
    """Binds one signed-in :class:`InterphoneClient` (and its audio) to the main window."""

    def __init__(self, window: MainWindow, client: InterphoneClient, audio: AudioPort | None,
                 settings: Settings, heard: Heard | None = None) -> None:
        super().__init__(window)
        heard = heard if heard is not None else Heard()
        self.window = window
        self.client = client
        self.model = client.model
        self.audio = audio
        self.settings = settings
        self.tasks = TaskSet(self._on_task_error)
        self._selected = ""
        self._names: dict[str, str] = {}
        self._speaker_seen: dict[str, tuple[str, float | None]] = {}  # id -> (uid, since)
        # the interphones whose speaker changes were followed since the link came up: a
        # speaker first seen elsewhere went on before (since when: not known)
        self._speakers_known: set[str] = set()
        self._seed_speakers()
        self._last_spoke = heard.last_spoke  # id -> the last turn that ended there
        self._replay_started = heard.replay_started  # transmission -> wall clock it started
        self._link_lost_at: float | None = None  # (monotonic) the connection was lost
        self._reconnecting = False  # lost, and being reconnected on its own
        self._transmitting = False
        self.talk = TurnDriver(client, config=self._turn_config,
                               on_transmit=self._set_transmitting, on_tone=self._turn_tone,
                               wait_drained=self._wait_drained, on_ended=self._turn_ended,
                               on_change=self._show_talk)
        """The one floor state machine and its driver: presses, release delay, requests,
        the place in line, revocations, cues, the view."""
        self._deadline: float | None = None
        self._refusal: tuple[int, str] = (0, "")
        self._offline_lines: set[str] = set()
        self.received: Counter[str] = Counter()  # audio packets heard, by speaker
        # joined interphone -> percent, and the muted ones (kept in the settings)
        self.interphone_volume, self.interphone_muted = parse_mix(settings.interphone_mix)
        self._active: dict[str, str] = {}  # joined, non-target interphone -> who speaks
        self._activity_cued: dict[str, float] = {}  # id -> monotonic time someone last began
        self._shown_target = ""  # the talk target the last JoinedChanged left
        # the rows shown by id, and those of live chats outside the roster (they come and go
        # with their interphone): an event about some interphones makes only their rows
        # again (joining one more of 60 groups with a thousand contacts made the thousand
        # rows three times, the loop blocked for seconds while joining a few)
        self._rows_shown: dict[str, InterphoneRow] = {}
        self._rows_unlisted: set[str] = set()
        self._ringing = QTimer(self)  # repeats the ring while model.incoming_calls is not empty
        self._ringing.setInterval(RING_REPEAT_MS)
        self._ringing.timeout.connect(self._ring_again)
        # contacts' presence changes shown together: a thousand contacts signing in at
        # 9 a.m. made as many refreshes of the whole list, each about 0.05 s of this thread
        self._presence_shown = QTimer(self)
        self._presence_shown.setSingleShot(True)
        self._presence_shown.setInterval(PRESENCE_REFRESH_MS)
        self._presence_shown.timeout.connect(self._show_presence)
        self._presence_changed: set[str] = set()  # the chats of the contacts changed since
        self.replay = heard.replay
        """The last 10 minutes of received transmissions (8 MiB at most), for replay."""
        self._replay_shown = -1  # the transmission number last listed
        # the replay list shown again once a speaker change's late packets are in (one
        # timer: a QTimer.singleShot per change left a weak reference and its slot behind)
        self._replay_settle = QTimer(self)
        self._replay_settle.setSingleShot(True)
        self._replay_settle.setInterval(REPLAY_SETTLE_MS)
        self._replay_settle.timeout.connect(self._show_replay)
        self._player = ReplayPlayer(self)
        self._alarm = QTimer(self)  # the repeating emergency alert
        self._alarm.setInterval(EMERGENCY_REPEAT_MS)
        self._alarm.timeout.connect(lambda: self._tone(Tone.EMERGENCY))
        self._emergency = NO_EMERGENCY  # the emergency the banner shows
        self._emergency_where = ""  # the interphone named by the banner ("" for the one shown)
        self._silenced = NO_EMERGENCY  # the emergency this user silenced
        # our calls, made or answered -> the talk target before the call (back to it after)
        self._call_return: dict[InterphoneId, InterphoneId | None] = {}
        self._peer_in: set[InterphoneId] = set()  # joined chats the other party is in
        # our outgoing calls' last status-bar line ("Calling Bob…", "Bob answered"): taken
        # back once we are no longer in the chat (it stayed up to 8 s after we left the call)
        self._call_notices: dict[InterphoneId, str] = {}
        self._link_drops = 0  # connections lost so far (a hang-up is judged within one)
        self._interrupted_calls: set[InterphoneId] = set()  # rang us when the link dropped
        # interphones whose removal the status bar said: their row leaving the list after
        # (the roster notice may follow the removal) does not say it again, less precisely
        self._removal_said: set[str] = set()
        # the status bar's removal lines ("You were removed from Ops"), which stay until
        # another message replaces them or we are in that interphone again: id -> line
        self._removal_lines: dict[str, str] = {}

        self._unsubscribe = self.model.subscribe(self._on_event)
        client.on_interphone_audio = self._on_audio
        self._own_talks = OwnTalks(client, self.replay, on_stored=self._replay_stored,
                                   on_ended=self._show_replay)
        client.on_feedback = self._on_feedback
        self._reporter = QualityReporter(client, self._receive_quality, key=stream_key)
        self._fec_recovered: dict[str, int] = {}  # speaker -> FEC-recovered frames seen
        self._last_heard = ("", 0, 0.0)  # the reception line's stream, packets, when seen
        # The media thread feeds the mixer directly, through the engine's own sink if it
        # has one (no layer per packet).
        client.set_audio_sink(self._play_audio, getattr(audio, "audio_sink", None))
        window.talk_pressed.connect(self.press_talk)
        window.panel.talk_button.offline_pressed.connect(self.press_talk)
        window.talk_released.connect(self.release_talk)
        window.selection_changed.connect(self.select)
        window.join_requested.connect(self.join)
        window.leave_requested.connect(self.leave)
        window.volume_changed.connect(self._on_volume)
        window.mute_toggled.connect(self._on_mute)
        window.call_dismissed.connect(self.decline)
        window.talk_here_requested.connect(self.talk_here)
        window.panel.mix.volume_changed.connect(self.set_interphone_volume)
        window.panel.mix.mute_toggled.connect(self.set_interphone_muted)
        window.replay_last_requested.connect(self.replay_last)
        window.panel.replay.play_requested.connect(self.play_replay)
        window.emergency.cancel_requested.connect(self.cancel_emergency)
        window.emergency.silence_requested.connect(self.silence_emergency)
        window.emergency_requested.connect(self.raise_emergency)
        window.emergency_cancel_requested.connect(
            lambda: self.cancel_emergency(str(self.model.joined or "")))

        window.set_me(self.model.uid)
        window.set_talk_key(settings.talk_key)
        window.talk_intents.set_toggle_mode(settings.talk_mode == TOGGLE)
        window.audio_bar.set_volume(settings.volume)
        window.audio_bar.set_muted(settings.muted)
        if audio is not None:
            audio.set_volume(settings.volume / 100)
            audio.set_muted(settings.muted)
            for interphone_id in set(self.interphone_volume) | self.interphone_muted:
                self._apply_interphone_gain(interphone_id)
        # one timer for the audio tick and the panel's clocks
        self._ticker = window.panel.ticker
        self._poll_due = self._quality_due = self._reception_due = 0.0
        self._streaming = audio is not None  # until the runtime says otherwise
        self._follow_audio_tick()
        window.retranslated.connect(self._show_link)  # its detail is worded here
        self.refresh()

    def display_names(self) -> dict[str, str]:
        """Names by uid from the roster, ours included (uids without one are left out)."""
        return display_names(self.model)

    # --- whole-view refresh --------------------------------------------------------------------
    def refresh(self) -> None:
        self.window.set_names(self.display_names())
        self._show_link()
        self._show_rows()
        if not self._selected and self.model.joined is not None:
            self._selected = str(self.model.joined)
        self._show_selected()
        self._show_talk()
        self._show_title()

    # --- model events --------------------------------------------------------------------------
    def _on_event(self, event: ModelEvent) -> None:
        if isinstance(event, ConnectionChanged):
            if event.state is ConnectionState.CONNECTED:
                if self._reconnecting:  # (only the link's words changed: it is said)
                    self.window.show_message(self.tr("Reconnected to the server"), 8000)
                self._link_lost_at, self._reconnecting = None, False
                # "Not connected — can't talk now" said to a press while offline is no
                # longer true: it stood beside "Connected as Carol" for seconds
                for text in self._offline_lines:
                    self.window.withdraw_message(text)
                self._offline_lines.clear()
            else:
                # back online, a call's other party is seen in it again before their
                # absence means a hang-up (they may come back after us)
                self._peer_in.clear()
                self._speakers_known.clear()  # the re-sync may show speakers gone on since
                self._end_receiving()
                self._link_drops += 1
                self._reconnecting = event.state is ConnectionState.RECONNECTING
                if self._link_lost_at is None:
                    self._link_lost_at = time.monotonic()
            # each failed reconnect attempt is an event: "reconnecting (attempt n)" follows
            # it, in the window and in the tray's tooltip while the window is hidden (no clock)
            self._show_link()
            if event.attempt and event.state is ConnectionState.RECONNECTING:
                return  # another attempt of the same outage: nothing else changed
            self._show_talk()
            self._show_rows()
            self._show_selected()
            self._show_title()
            self._show_emergency()  # (no alert while offline; resumed on reconnecting)
            self._show_reception()
            if event.state.final or event.state is ConnectionState.RECONNECTING:
                self._stop_transmitting()  # (the driver tells the machine)
        elif isinstance(event, MediaPathChanged):
            self._on_media_path(event)
        elif isinstance(event, StoreChanged):
            self._on_store(event)
        elif isinstance(event, RosterChanged | InterphoneUpdated | InterphoneEnded):
            if isinstance(event, RosterChanged):
                self.window.set_names(self.display_names())
            if isinstance(event, InterphoneUpdated | InterphoneEnded):
                self._note_speaker(str(event.id))
                if isinstance(event, InterphoneEnded):
                    self.window.clear_incoming_call(str(event.id))
                self._follow_calls(event.id)
                self._show_rows_of(str(event.id))
            else:
                self._show_rows()
            self._show_selected()
            if isinstance(event, RosterChanged):
                # (a directory reload renamed a group or a user: what names them follows,
                # the rows' names being taken above)
                self._show_talk()  # "Talks into Ops"
                self._show_title()
                self._show_replay()
        elif isinstance(event, JoinedChanged):
            self._note_left_target_speaking()
            # (told after the model's batch: an interim target of a batch that dropped
            # every interphone, a kick or a lost connection, is not followed; the list
            # stays where the user looked)
            if event.id is not None and self.model.is_joined(event.id):
                self._selected = str(event.id)
                self._removal_said.discard(self._selected)  # in it again
                self.window.clear_incoming_call(str(event.id))
                # made the talk target while someone spoke there: the end of that is the
                # target's (SpeakerChanged), so its "elsewhere" activity would never clear
                self._active.pop(str(event.id), None)
            self._show_rows_of()  # (the old and new talk targets' among the marked rows)
            self._show_selected()
            self._show_talk()
            self._show_title()
        elif isinstance(event, MembersChanged):
            self._show_selected()
        elif isinstance(event, SpeakerChanged):
            self._on_speaker(event)
            self._follow_audio_tick()
            # the reception line names the talk target's speaker: it follows the change
            # now (with a stream running it waited for the next second's tick)
            self._show_reception()
        elif isinstance(event, FloorChanged):
            self._on_floor(event)
        elif isinstance(event, IncomingCall):
            self._interrupted_calls.discard(event.id)  # (rung again after our drop)
            self.window.notify_incoming_call(str(event.id),
                                             self.window.display_name(event.from_uid))
            self._tone(Tone.INCOMING_CALL)
            if self.model.incoming_calls:
                self._ringing.start()
        elif isinstance(event, JoinedSetChanged):
            self._active = {k: v for k, v in self._active.items()
                            if self.model.is_joined(k) and k != str(self.model.talk_target)}
            self._withdraw_call_notices()
            for key in [k for k in self._removal_lines if self.model.is_joined(k)]:
                self.window.withdraw_message(self._removal_lines.pop(key))  # in it again
            self._show_rows_of()  # (those joined or left among the marked rows)
            self._show_selected()
            self._ask_members_of_selected()  # left while shown: who is still in
        elif isinstance(event, RemovedFromInterphone):  # (the rows follow JoinedSetChanged)
            name = self._names.get(str(event.id), str(event.id))
            self._removal_said.add(str(event.id))
            target = str(self.model.talk_target or "")
            if event.talk_target and target:  # another joined one took over (as at a leave)
                text = (self.tr("You were removed from %1: now talking into %2")
                        .replace("%1", name).replace("%2", self._names.get(target, target)))
            else:
                text = self.tr("You were removed from %1").replace("%1", name)
            # news that stays (it went after 8 s, unread by whoever was away): until
            # another message replaces it ("X is speaking in Y" does not) or we are in
            # that interphone again
            self._removal_lines[str(event.id)] = text
            self.window.show_message(text, 0)
        elif isinstance(event, JoinedSpeakerChanged):
            self._on_activity(event)
        elif isinstance(event, ContactPresenceChanged):
            # (their rows alone: the other contacts' stay as they are)
            self._presence_changed.add(str(InterphoneId.chat(self.model.uid, event.uid)))
            if not self._presence_shown.isActive():
                self._presence_shown.start()
        elif isinstance(event, OutgoingCallChanged):
            self._on_outgoing_call(event)
            self._show_rows_of(str(event.id))  # the chat's row and panel say it rings, until
            # it no longer does
            self._show_selected()
        elif isinstance(event, EmergencyChanged):
            self._on_emergency_changed(event)
        elif isinstance(event, IncomingCallEnded):
            self._on_incoming_call_ended(event)

    def _note_left_target_speaking(self) -> None:
        """Someone still speaks in the interphone that was the talk target: it is activity
        elsewhere now (highlighted, in the tray), until that speaker stops."""
        previous = self._shown_target
        self._shown_target = str(self.model.talk_target or "")
        if not previous or previous == self._shown_target or not self.model.is_joined(previous):
            return
        info = self.model.interphone(previous)
        if info is not None and info.speaker and info.speaker != self.model.uid:
            self._active[previous] = info.speaker

    # --- view intents --------------------------------------------------------------------------
    def select(self, interphone_id: str) -> None:
        self._selected = interphone_id
        self._follow_listening()
        self._show_replay()
        self._show_selected()
        self._show_talk()
        self._show_reception()  # (the talk target's speaker's: under it only)
        self._ask_members_of_selected()

    def _ask_members_of_selected(self) -> None:
        """The selected interphone's member list when it is not known (an interphone we
        are not in: selected, or just left while shown)."""
        interphone_id = self._selected
        info = self.model.interphone(interphone_id) if interphone_id else None
        joined = info is not None and self.model.is_joined(info.id)
        if info is not None and info.members is None and not joined and self._online():
            self.tasks.spawn(self.client.members(interphone_id), "members")

    def join(self, interphone_id: str) -> None:
        """Join one more interphone (the others stay joined); it becomes the talk target.
        A joined one (e.g. a double-click) only becomes the talk target."""
        self._selected = interphone_id
        self.window.interphones.hold_order()  # the row joined stays where the user saw it
        self._show_selected()
        if not self._online():
            self._say_offline(self._offline_text(), 8000)
            return
        if self.model.is_joined(interphone_id):
            self.talk_here(interphone_id)
            return
        row = self.window.interphones.row(interphone_id)
        chat = InterphoneId.parse(interphone_id)
        # (the model's presence, not the row's: presence changes reach the rows together,
        # a moment later)
        if (row is not None and row.online is not None and not row.live
                and chat.kind is AttachType.CHAT and chat.involves(self.model.uid)
                and self.model.is_online(other_party(chat, self.model.uid)) is False
                and chat not in self.model.incoming_calls):
            # a contact shown offline (extension presence): a call could not reach them
            self.window.show_message(self.tr("%1 is offline").replace("%1", row.name), 8000)
            return
        self.tasks.spawn(self._join(interphone_id), "join")

    async def _join(self, interphone_id: str) -> None:
        self._reset_turn()
        interphone = InterphoneId.parse(interphone_id)
        ours = interphone.involves(self.model.uid)  # a chat of ours
        if ours:  # a call made or answered: when it ends, the talk target comes back
            self._call_return[interphone] = self.model.talk_target
        if ours and interphone not in self.model.incoming_calls:
            try:
                await self.client.call(other_party(interphone, self.model.uid))
            except NotConnected:
                self._call_return.pop(interphone, None)
                raise
            except ClientError as exc:  # the join or the ring failed
                await self._end_failed_call(interphone, self.tr("Call to %1 failed: %2")
                                            .replace("%1", self._names.get(interphone_id,
                                                                           interphone_id))
                                            .replace("%2", error_text(exc)))
        else:
            listed = self.window.interphones.row(interphone_id) is not None
            try:
                await self.client.join(interphone)
            except StoreUnavailable:
                self._join_when_store_back(interphone_id)
            except NotAllowed:
                if not listed or self.window.interphones.row(interphone_id) is not None:
                    raise
                # a roster group we may no longer see: it left the list, and _show_rows said so

    def talk_here(self, interphone_id: str) -> None:
        """Make a joined interphone the talk target (ends a turn in the old one)."""
        if self.model.talk_target is not None and str(self.model.talk_target) == interphone_id:
            return
        self._reset_turn()
        self.tasks.spawn(self.client.set_talk_target(interphone_id), "talk target")

    def leave(self, interphone_id: str) -> None:
        if not self._online():  # nothing to ask the server: say why (as join does)
            self._say_offline(self._offline_text(), 8000)
            return
        if self.model.talk_target is not None and str(self.model.talk_target) == interphone_id:
            self._reset_turn()
        self.tasks.spawn(self._leave(interphone_id), "leave")

    async def _leave(self, interphone_id: str) -> None:
        """Leave ``interphone_id`` ("": the talk target). Left, the talk target moves to the
        most recently joined other one (a call of ours: back to the one talked into before
        it), and the status bar says where the talk key talks now (the selection follows)."""
        left = InterphoneId.parse(interphone_id) if interphone_id else self.model.talk_target
        if left is None:
            return
        was_target = left == self.model.talk_target
        before_call = self._call_return.pop(left, None)
        await self.client.leave(left)
        if (was_target and before_call is not None and before_call != left
                and self.model.is_joined(before_call)
                and self.model.talk_target != before_call):
            await self.client.set_talk_target(before_call)
        target = self.model.talk_target
        if was_target and target is not None and not self.model.is_joined(left):
            name = str(left)
            self.window.show_message(self.tr("Left %1: now talking into %2")
                                     .replace("%1", self._names.get(name, name))
                                     .replace("%2", self._names.get(str(target), str(target))),
                                     8000)

    def _can_talk(self) -> bool:
        return self._online() and self.model.talk_target is not None

    def _online(self) -> bool:
        return self.model.connection is ConnectionState.CONNECTED

    def _on_task_error(self, exc: BaseException) -> None:
        if isinstance(exc, NotConnected):
            self._say_offline(self._offline_text(), 8000)
            return
        self.window.show_message(self.tr("Request failed: %1").replace("%1", error_text(exc)),
                                 8000)

    def _say_offline(self, text: str, timeout_ms: int) -> None:
        """Say in the status bar that we are not connected: withdrawn once we are."""
        self._offline_lines.add(text)
        self.window.show_message(text, timeout_ms)

    def _offline_text(self) -> str:
        if (self.model.connection is ConnectionState.KICKED
                and self.model.connection_detail == ACCOUNT_REMOVED):
            return self.tr("Not connected: your account was removed from the server's "
                           "directory. Ask its administrator.")
        if self.model.connection is ConnectionState.KICKED:
            return self.tr("Not connected: you signed in elsewhere. Press Reconnect to "
                           "continue here.")
        if self.model.connection is ConnectionState.RECONNECTING:
            return self.tr("Not connected yet: reconnecting…")
        return self.tr("Not connected to the server.")

    # --- view updates --------------------------------------------------------------------------
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
            elif row.live:  # (e.g. just left: the list we had is no longer true)
                panel.forget_members()
            seen = self._speaker_seen.get(row.id)
            panel.set_speaker(row.speaker, seen[1] if seen and seen[0] == row.speaker else None)
        panel.set_last_speaker(self._last_spoken(row.id))
        self._show_emergency()

    def _show_title(self) -> None:
        joined = self.model.joined
        name = self._names.get(str(joined), str(joined)) if joined is not None else ""
        # offline, who speaks is not known (the panel says so): the title names nobody
        speaker = self.model.speaker if joined is not None and self._online() else ""
        self.window.set_speaking(name, speaker)

    # --- shutdown ------------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop listening to the model and end what this presenter started."""
        self._ticker.unsubscribe(self._audio_tick)
        self._ticker.unsubscribe(self._audio_work_tick)
        self.client.audio_polled = False
        self._ringing.stop()
        self._alarm.stop()
        self._player.stop()
        self._unsubscribe()
        self._own_talks.close()
        if self.client.on_interphone_audio == self._on_audio:
            self.client.on_interphone_audio = None
        if self.client.on_feedback == self._on_feedback:
            self.client.on_feedback = None
        if self.client.audio_sink == self._play_audio:
            self.client.set_audio_sink(None)
        self._stop_transmitting()
        await self.talk.close()
        await self.tasks.close()
