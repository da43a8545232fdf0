"""The presenter's emergency (extension emergency): the banner and the repeating alert
that follow the selected interphone, the talk target and the other joined ones, raising
and cancelling, and the local Silence (the alert stops for this user only; a new
emergency alerts again, told apart by the id the server gives each raise, also when it
was cancelled and raised again by the same user while we were offline). The alert is
quiet while offline and resumes on reconnecting if the emergency is still raised.

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from app.client import EmergencyChanged
from app.protocol.features import EMERGENCY
from app.ui.audio_link import Tone
from app.ui.floor_text import emergency_cancelled_text, emergency_text
from app.ui.presenter_core import PresenterCore

EMERGENCY_REPEAT_MS = 2500

Emergency = tuple[str, str, str]
"""(interphone, raiser, emergency id); the id is '' from a server that gives none (then
the raiser alone tells one emergency from the next), all three '' for none."""
NO_EMERGENCY: Emergency = ("", "", "")


class PresenterEmergency(PresenterCore):
    """The emergency banner, its alert, and the raise and cancel intents."""

    _alarm: QTimer
    _emergency: Emergency
    _emergency_where: str
    _silenced: Emergency  # the emergency this user silenced

    def _show_emergency(self) -> None:
        """The banner and the repeating alert follow the ``emergency`` (who raised it;
        extension ``emergency``) of the selected interphone, else of the talk target, else
        of another joined interphone (one listened to: its emergency is heard too)."""
        self._show_emergency_action()
        silenced_id = self._silenced[0]
        if silenced_id and self._online():  # (offline, the model may be out of date)
            info = self.model.interphone(silenced_id)
            if info is None or (info.emergency, info.emergency_id) != self._silenced[1:]:
                self._silenced = NO_EMERGENCY  # that emergency ended: the next one alerts
        raised = NO_EMERGENCY
        joined = [str(interphone) for interphone in self.model.joined_ids]
        for key in (self._selected, str(self.model.joined or ""), *joined):
            info = self.model.interphone(key) if key else None
            if info is not None and info.emergency:
                raised = (key, info.emergency, info.emergency_id)
                break
        # over another interphone's panel the banner says where the emergency is
        where = self._names.get(raised[0], raised[0]) \
            if raised[1] and raised[0] != self._selected else ""
        if raised == self._emergency:
            if raised[1] and where != self._emergency_where:
                self._emergency_where = where
                self._show_banner(raised)
            self._sound_alarm(fresh=False)
            return
        self._emergency, self._emergency_where = raised, where
        if not raised[1]:
            self.window.emergency.clear()
            self.window.show_tray_state()
            self._alarm.stop()
            return
        self._show_banner(raised)
        self._sound_alarm(fresh=True)
        if raised[1] != self.model.uid:
            self.window.notify_emergency(raised[0], emergency_text(
                self.window.display_name(raised[1]),
                where=self._names.get(raised[0], raised[0])))

    def _on_emergency_changed(self, event: EmergencyChanged) -> None:
        """Someone else cancelled an emergency in an interphone we are in or look at: the
        banner goes (``_show_emergency``), and the status bar says who ended it."""
        key = str(event.id)
        if event.raised_by or not event.cancelled_by or event.cancelled_by == self.model.uid:
            return
        if not (self.model.is_joined(event.id) or key == self._selected):
            return
        self.window.show_message(emergency_cancelled_text(
            self._names.get(key, key), self.window.display_name(event.cancelled_by)), 15000)

    def _sound_alarm(self, *, fresh: bool) -> None:
        """The repeating alert while the banner's emergency is up, we are online and this
        user has not silenced it; ``fresh``: the banner's emergency just changed."""
        emergency = self._emergency
        if not emergency[1] or not self._online() or emergency == self._silenced:
            self._alarm.stop()
        elif fresh or not self._alarm.isActive():  # (resumed after reconnecting)
            self._tone(Tone.EMERGENCY)
            self._alarm.start()

    def _show_banner(self, raised: Emergency) -> None:
        can_cancel = raised[1] == self.model.uid or self._is_dispatcher()
        self.window.emergency.show_emergency(
            raised[0], self.window.display_name(raised[1]), can_cancel,
            by_you=raised[1] == self.model.uid, where=self._emergency_where,
            silenced=raised == self._silenced)
        self.window.show_tray_state()  # (the tooltip says it)

    def silence_emergency(self, interphone_id: str) -> None:
        """Stop the repeating alert of the emergency on the banner, for this user only: the
        banner stays until the emergency ends; another emergency alerts again."""
        if interphone_id and interphone_id == self._emergency[0] and self._emergency[1]:
            self._silenced = self._emergency
            self._alarm.stop()
            self._show_banner(self._emergency)

    def _show_emergency_action(self) -> None:
        """The menu's action raises an emergency in the talk target; while one is up there
        it cancels it (its raiser, a dispatcher) or is disabled (anyone else)."""
        joined = self.model.joined
        offered = self._online() and joined is not None and EMERGENCY in self.client.features
        info = self.model.interphone(joined) if joined is not None else None
        raiser = info.emergency if info is not None and offered else ""
        target = self._names.get(str(joined), str(joined)) if joined is not None else ""
        where = target if joined is not None and str(joined) != self._selected else ""
        self.window.set_emergency_action(
            offered, self.window.display_name(raiser) if raiser else "",
            bool(raiser) and (raiser == self.model.uid or self._is_dispatcher()), where,
            target)

    def _is_dispatcher(self) -> bool:
        return self.client.dispatcher

    def raise_emergency(self) -> None:
        """Raise an emergency on the joined interphone (extension ``emergency``)."""
        if self.model.joined is not None and EMERGENCY in self.client.features:
            self.tasks.spawn(self.client.raise_emergency(self.model.joined), "emergency")

    def cancel_emergency(self, interphone_id: str) -> None:
        if interphone_id:
            self.tasks.spawn(self.client.cancel_emergency(interphone_id), "emergency")
