"""The presenter's side of the turn (floor): talk presses and releases to the
:class:`~app.client.turn_driver.TurnDriver`, and the driver's callbacks (transmit on and
off, cues, the drain wait, the end of a turn).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication

from app.client.turn import EndReason, TurnConfig, TurnMachine, TurnTone, TurnViewKind
from app.protocol.features import FLOOR_QUEUE
from app.ui.audio_link import TURN_TONES
from app.ui.floor_text import end_reason_text, refusal_text
from app.ui.presenter_core import PresenterCore
from app.ui.view_types import TalkState

_TALK_STATES = {TurnViewKind.IDLE: TalkState.IDLE, TurnViewKind.REQUESTING: TalkState.REQUESTING,
                TurnViewKind.TALKING: TalkState.TALKING, TurnViewKind.QUEUED: TalkState.QUEUED,
                TurnViewKind.BUSY: TalkState.BUSY, TurnViewKind.DENIED: TalkState.DENIED,
                TurnViewKind.PREEMPTED: TalkState.IDLE, TurnViewKind.REVOKED: TalkState.IDLE}


class PresenterTurn(PresenterCore):
    """Talk intents in, transmission and cues out."""

    _refusal_said: str = ""  # the refusal shown on the disc, as last shown

    def press_talk(self) -> None:
        """Talk intent (button or key): talks into the talk target, whichever row is
        selected (looking at another row never drops the talk target).

        Every press and release goes to the turn machine (:attr:`talk`); it debounces
        auto-repeat (one physical press, at most one request) and runs the release delay.
        Offline, the press is refused as while someone speaks, and the status bar says why."""
        if not self._online():
            self.window.panel.talk_button.show_refused()
            self._say_offline(QCoreApplication.translate(
                "Presenter", "Not connected — can't talk now"), 5000)
            return
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
        if tone in (TurnTone.PERMIT, TurnTone.YOUR_TURN) and not self._tones_heard() \
                and not self.window.talk_intents.latched:  # (a latch says more: see there)
            self.window.announcer.floor_granted()  # (else the tone says it, and only it)
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

    def _show_talk(self) -> None:
        """The talk button (and what says it: the screen reader, the tray) for the talk
        target's turn."""
        model = self.model
        if not self._online():
            state, holder, detail = TalkState.OFFLINE, "", ""
        elif model.talk_target is None:
            state, holder, detail = TalkState.NOT_JOINED, "", ""
        else:
            view = self.turn.view(time.monotonic())
            state = _TALK_STATES[view.kind]
            holder = self.window.display_name(model.floor_holder or model.speaker)
            detail = ""
            if view.kind is TurnViewKind.QUEUED:
                detail = str(model.queue_position)
            if (state in (TalkState.IDLE, TalkState.REQUESTING) and model.speaker
                    and model.speaker != model.uid):
                state = TalkState.BUSY
            target = str(model.talk_target)
            muted = target in self.interphone_muted  # its replies would not be heard
            name = self._names.get(target, target)
            # (the detail is the button's second line in IDLE; QUEUED shows the place)
            if state is TalkState.DENIED:  # (not allowed, or the server's fault, a budget...)
                detail = refusal_text(*self._refusal)
            elif state is TalkState.BUSY and target != self._selected:
                detail = name  # "Alice is speaking in Ops": not in the interphone shown
            elif state is TalkState.TALKING and target != self._selected:
                detail = name  # "Into Ops · 0:58 left": not into the interphone shown
            elif state is not TalkState.IDLE:
                pass
            elif target != self._selected:  # looking at another row
                detail = (QCoreApplication.translate("Presenter", "Talks into %1 (muted)")
                          if muted else QCoreApplication.translate("Presenter", "Talks into %1")
                          ).replace("%1", name)
            elif muted:
                detail = QCoreApplication.translate("Presenter",
                                                    "Muted here: you will not hear replies")
        # a refusal that is no refusal of permission (the server's fault, a budget): the
        # button says to try again rather than "Denied"
        retry = state is TalkState.DENIED and self._refusal[0] not in (0, 403)
        self.window.set_talk_state(state, holder, detail, self._deadline,
                                   float(model.max_talk), running=self.talk_in_progress,
                                   retry=retry)
        # a refusal the disc cuts ("The server cannot reach it…" at 640 px): written whole
        # in the status bar (not said again: a screen reader has the disc's whole text)
        said = detail if state is TalkState.DENIED else ""
        if said != self._refusal_said:
            self._refusal_said = said
            if said and self.window.panel.talk_button.detail_cut():
                self.window.statusBar().showMessage(said, 8000)
        self._show_emergency_action()
