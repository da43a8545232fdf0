"""The status bar in a narrow window while the server cannot reach its database: the
degraded link ("Connected as Alice, but the server cannot reach its database; trying
again…") is long, and what shows beside it must still read whole or end with "…"."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.elided_note import ElidedNote
from app.ui.main_window import MainWindow
from app.ui.view_types import LinkState

pytest_plugins = ["test_ui_support"]

WAIT = "Everyone will be joined once the server's database is back"


@pytest.fixture
def degraded(qtbot):
    """A 640 px window, its server degraded, the audio simulated."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("Alice")
    window.set_link(LinkState.DEGRADED, "")
    window.set_audio_note(True, "no sound card")
    window.resize(640, 480)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    yield window
    window.talk_key.detach()


def shown_notes(window: MainWindow) -> list[QWidget]:
    bar = window.statusBar()
    return [w for w in bar.findChildren(QWidget)
            if w.parentWidget() is bar and not w.isHidden() and w.width() > 0]


def test_the_audio_note_is_not_cut_mid_word_beside_the_degraded_link(degraded) -> None:
    """At 640 px the audio note read "Audio: simulated, no soun": pushed past the window's
    edge by the degraded link. Every note fits in the status bar; one without its whole
    width is cut with "…" (and says the whole in its tooltip)."""
    for note in shown_notes(degraded):  # (the status bar was wider than the window)
        assert note.mapTo(degraded, note.rect().bottomRight()).x() < degraded.width(), note
    audio = degraded.audio_label
    if audio.width() < audio.fontMetrics().horizontalAdvance(audio.text()):
        assert isinstance(audio, ElidedNote)
    assert audio.toolTip() == "Audio: simulated, no sound card"
    assert audio.text() == "Audio: simulated, no sound card"


def test_a_waiting_join_s_message_has_its_room_beside_the_degraded_link(degraded) -> None:
    """A join clicked during the outage: "Everyone will be joined once the server's
    database is back" read "Everyone will be joi…" at 640 px, the degraded link keeping
    its whole width. The link gives way (cut with "…", its dot kept) while a message
    shows, and has its width back after it."""
    bar = degraded.statusBar()
    link = degraded.link_label
    whole = link.width()
    degraded.show_message(WAIT, 0)
    QApplication.processEvents()
    room = min(w.x() for w in shown_notes(degraded))
    assert bar.fontMetrics().horizontalAdvance(WAIT) + 8 <= room
    assert not link.isHidden() and link.width() > 0  # (the link still says something)
    assert "cannot reach its database" in link.accessibleName()
    bar.clearMessage()
    QApplication.processEvents()
    assert link.width() == whole
