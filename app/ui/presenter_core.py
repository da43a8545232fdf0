"""What the parts of :class:`~app.ui.presenter.Presenter` share: the window, the client
and its model, the audio port, the settings and the presenter's own records (declared
here, set up by ``Presenter.__init__``) and, for the type checker only, the methods one
part calls in another.

The parts are mixins over :class:`PresenterCore`: audio (:mod:`app.ui.presenter_audio`),
the turn (:mod:`app.ui.presenter_turn`), speakers (:mod:`app.ui.presenter_speakers`),
instant replay (:mod:`app.ui.presenter_replay`), the list (:mod:`app.ui.presenter_list`),
emergencies (:mod:`app.ui.presenter_emergency`) and calls (:mod:`app.ui.presenter_calls`).
They call no ``tr`` (it would take the mixin's class as the context): their translated strings use
``QCoreApplication.translate("Presenter", …)``, the context of
:class:`~app.ui.presenter.Presenter`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from app.client import ClientModel, InterphoneClient
from app.client.replay import ReplayStore
from app.client.tasks import TaskSet
from app.client.turn_driver import TurnDriver
from app.ui.audio_link import AudioPort
from app.ui.last_spoke import Turn
from app.ui.main_window import MainWindow
from app.ui.settings import Settings

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer

    from app.client.turn import TurnMachine
    from app.ui.audio_link import Tone


class PresenterCore:
    """The presenter's shared attributes (see :class:`~app.ui.presenter.Presenter`)."""

    window: MainWindow
    client: InterphoneClient
    model: ClientModel
    audio: AudioPort | None
    settings: Settings
    tasks: TaskSet
    talk: TurnDriver
    received: Counter[str]
    replay: ReplayStore
    interphone_volume: dict[str, int]
    interphone_muted: set[str]
    _selected: str
    _names: dict[str, str]
    _active: dict[str, str]  # joined, non-target interphone -> who speaks
    _activity_cued: dict[str, float]  # id -> monotonic time someone last began there
    _speaker_seen: dict[str, tuple[str, float | None]]  # id -> (uid, since)
    _speakers_known: set[str]  # interphones whose speaker changes were followed since online
    _last_spoke: dict[str, Turn]  # id -> the last turn that ended there
    _replay_started: dict[int, float]  # replay transmission number -> time.time() it started
    _replay_settle: QTimer  # single shot: the replay list shown again after a speaker change
    _link_lost_at: float | None  # time.monotonic() the connection was lost (None: connected)
    _transmitting: bool
    _deadline: float | None
    _refusal: tuple[int, str]  # our last floor request's refusal: (errcode, errmsg)
    _offline_lines: set[str]  # status bar lines that say we are not connected

    if TYPE_CHECKING:
        # ---- Presenter (presenter.py) -------------------------------------------------------

        def _online(self) -> bool: ...
        def _can_talk(self) -> bool: ...
        def _show_selected(self) -> None: ...
        def _show_talk(self) -> None: ...
        def _show_title(self) -> None: ...
        def _say_offline(self, text: str, timeout_ms: int) -> None: ...
        def select(self, interphone_id: str) -> None: ...
        def join(self, interphone_id: str) -> None: ...

        # ---- the parts ----------------------------------------------------------------------

        def _tone(self, tone: Tone) -> None: ...
        def _tones_heard(self) -> bool: ...
        def _reset_turn(self) -> None: ...
        def _stop_transmitting(self) -> None: ...
        @property
        def turn(self) -> TurnMachine: ...
        def _show_replay(self) -> None: ...
        def _show_emergency_action(self) -> None: ...
        def _note_replay_start(self, number: int) -> None: ...
        def _replay_stored(self, number: int, reopened: bool = False) -> None: ...
        def _show_rows(self) -> None: ...
        def _show_rows_of(self, *keys: str) -> None: ...
