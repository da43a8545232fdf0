"""The presenter's side of the turn (floor): talk presses and releases to the
:class:`~app.client.turn_driver.TurnDriver`, and the driver's callbacks (transmit on and
off, cues, the drain wait, the end of a turn).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.client.turn import EndReason, TurnConfig, TurnMachine, TurnTone
from app.protocol.features import FLOOR_QUEUE
from app.ui.audio_link import TURN_TONES
from app.ui.floor_text import end_reason_text
from app.ui.presenter_core import PresenterCore
from app.ui.view_types import TalkState


class PresenterTurn(PresenterCore):
    """Talk intents in, transmission and cues out."""

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
