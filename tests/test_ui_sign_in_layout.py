"""The sign-in dialog's trust-on-first-use question fits: the fingerprint can wrap, and the
dialog grows to the wrapped texts instead of drawing them over each other and cutting the
fingerprint and the "trust" box off (as it did with its fixed minimum width)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication
from test_ui_support import on_a_screen

from app.ui.sign_in import SignInDialog, breakable_fingerprints, fill
from app.ui.view_types import CertificateDetails, SignInProblem

pytest_plugins = ["test_ui_support"]

FINGERPRINT = ":".join(f"{i * 7 % 256:02X}" for i in range(32))


def test_breakable_fingerprints_keep_the_bytes_and_add_break_points() -> None:
    text = f"fingerprint is {FINGERPRINT}. Check it"
    spaced = breakable_fingerprints(text)
    assert spaced.replace(" ", "") == text.replace(" ", "")
    assert max(len(word) for word in spaced.split()) <= 24  # 8 bytes per piece
    assert breakable_fingerprints("no fingerprint here") == "no fingerprint here"


def test_the_certificate_question_fits_in_the_dialog(qapp: QApplication) -> None:
    dialog = SignInDialog()
    dialog.set_values("127.0.0.1:9400, 127.0.0.1:9401", "alice", "pw", False)
    dialog.set_tls(True)
    dialog.show()
    qapp.processEvents()
    before = dialog.height()
    dialog.set_encryption(FINGERPRINT)
    dialog.set_problem(SignInProblem.CERT_NEW, CertificateDetails("127.0.0.1:9400", FINGERPRINT))
    qapp.processEvents()
    try:
        assert dialog.height() > before
        for widget in (dialog.encryption, dialog.error, dialog.fingerprint, dialog.advice,
                       dialog.trust_certificate, dialog.buttons):
            geometry = widget.geometry()
            assert geometry.bottom() < dialog.height(), widget  # not cut off at the bottom
            assert geometry.right() < dialog.width(), widget
        error, trust = dialog.error.geometry(), dialog.trust_certificate.geometry()
        assert error.height() >= dialog.error.heightForWidth(error.width())  # all lines
        # (its text wraps: every line of it)
        assert trust.height() >= dialog.trust_certificate.heightForWidth(trust.width())
        assert error.bottom() < trust.top()  # not drawn over each other
        assert error.bottom() < dialog.fingerprint.geometry().top()
        assert dialog.advice.geometry().bottom() < trust.top()
        assert dialog.encryption.geometry().bottom() < dialog.remember.geometry().top()
        asking = dialog.minimumHeight()
        dialog.set_problem(None)
        qapp.processEvents()
        assert dialog.minimumHeight() < asking  # the user may make it small again
    finally:
        dialog.close()


def test_fill_replaces_each_placeholder_once() -> None:
    assert fill("%1 then %2", "[fe80::1%2]:9400", "AB") == "[fe80::1%2]:9400 then AB"
    assert fill("%1 and %3", "x") == "x and %3"


def test_a_shorter_problem_after_a_longer_one_leaves_no_blank_band(qapp: QApplication) -> None:
    """Cannot reach (four lines) then a wrong token (one line): the dialog kept the taller
    height and showed a blank band above the new problem; it follows the text down."""
    dialog = SignInDialog()
    dialog.set_values("127.0.0.1:19492", "alice", "pw", False)
    dialog.show()
    qapp.processEvents()
    try:
        dialog.set_problem(SignInProblem.UNREACHABLE,
                           "Cannot reach 127.0.0.1:9400: the connection was refused (no server "
                           "on this port?).")
        qapp.processEvents()
        tall = dialog.height()
        dialog.set_problem(SignInProblem.REFUSED)
        qapp.processEvents()
        assert dialog.height() < tall
        assert dialog.height() == dialog.height_for(dialog.width())
    finally:
        dialog.close()


BIG_FONT_SCRIPT = """
import json, sys
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication
from app.client.failures import Failure, FailureKind, OsReason
from app.ui.sign_in import SignInDialog
from app.ui.view_types import SignInProblem
app = QApplication(sys.argv)
font = app.font()
font.setPointSize(20)
app.setFont(font)
dialog = SignInDialog()
dialog.set_values("127.0.0.1:19492", "alice", "pw", False)
dialog.show()
app.processEvents()
dialog.set_problem(SignInProblem.UNREACHABLE,
                   Failure(FailureKind.CANNOT_CONNECT, "127.0.0.1:19492",
                           os_reason=OsReason.REFUSED))
app.processEvents()
screen = app.primaryScreen().availableGeometry()
def on_screen(widget):
    return screen.contains(QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size()))
error = dialog.error
print(json.dumps({"off": [button.text() for button in dialog.buttons.buttons()
                          if not on_screen(button)],
                  "error_cut": error.height() < error.heightForWidth(error.width()),
                  "dialog": [dialog.width(), dialog.height()]}))
"""


def test_a_problem_at_a_20_point_font_keeps_the_buttons_on_an_800x600_screen(
        tmp_path) -> None:
    """At a large system font (20 pt) the unreachable server's four lines made the dialog
    623 pixels high on an 800×600 screen: Sign in and Cancel were below its edge. It widens
    (the texts take fewer lines) and stays on the screen."""
    shown = on_a_screen(tmp_path, BIG_FONT_SCRIPT, 800, 600)
    assert shown["off"] == [], shown
    assert not shown["error_cut"], shown
    assert shown["dialog"][1] <= 600, shown


CERTIFICATE_AT_20_POINTS = """
import json, sys
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QScrollArea
from app.ui.sign_in import SignInDialog
from app.ui.view_types import CertificateDetails, SignInProblem
app = QApplication(sys.argv)
font = app.font()
font.setPointSize(20)
app.setFont(font)
fingerprint = FINGERPRINT_HERE
dialog = SignInDialog()
dialog.set_values("127.0.0.1:19493", "alice", "pw", False)
dialog.set_tls(True)
dialog.show()
app.processEvents()
dialog.set_encryption(fingerprint)
dialog.set_problem(SignInProblem.CERT_NEW, CertificateDetails("127.0.0.1:19493", fingerprint))
app.processEvents()
screen = app.primaryScreen().availableGeometry()
def on_screen(widget):
    return screen.contains(QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size()))
trust = dialog.trust_certificate
dialog.activateWindow()
dialog.remember.setFocus()
for _ in range(10):  # Tab down to the check box: what does not fit scrolls into view
    if trust.hasFocus():
        break
    QTest.keyClick(app.focusWidget(), Qt.Key.Key_Tab)
    app.processEvents()
scroller = dialog.findChild(QScrollArea)
viewport = scroller.viewport() if scroller is not None else dialog
seen = viewport.rect().contains(QRect(trust.mapTo(viewport, QPoint(0, 0)), trust.size()))
print(json.dumps({"off": [widget.text() for widget in (*dialog.buttons.buttons(), trust)
                          if not on_screen(widget)] + ([] if seen else ["not in view"]),
                  "focus": trust.hasFocus(),
                  "trust_cut": trust.height() < trust.heightForWidth(trust.width())
                               or trust.geometry().right() >= dialog.width(),
                  "dialog": [dialog.frameGeometry().width(), dialog.frameGeometry().height()]}))
""".replace("FINGERPRINT_HERE", repr(FINGERPRINT))


def test_the_certificate_question_at_a_20_point_font_fits_an_800x600_screen(tmp_path) -> None:
    """At 20 pt the certificate question's check box, "I checked the fingerprint: trust
    this certificate for this server", did not wrap: the dialog was 861×664 on an 800×600
    screen, its right part and Sign in off the screen. Its text wraps, and what does not
    fit above the buttons scrolls: the dialog and its buttons are on the screen, the whole
    check box too once scrolled to."""
    shown = on_a_screen(tmp_path, CERTIFICATE_AT_20_POINTS, 800, 600)
    assert shown["off"] == [], shown
    assert not shown["trust_cut"] and shown["focus"], shown
    assert shown["dialog"][0] <= 800 and shown["dialog"][1] <= 600, shown


@pytest.mark.parametrize("points", [None, 18])
def test_the_dialog_opens_with_every_line_in_sight(qapp: QApplication, points: int | None) -> None:
    """Fitted to its texts before it was first shown, at Qt's 640-pixel default width, the
    dialog opened 380 pixels wide and too short for them there: the "not encrypted" note
    took two lines, and "Remember me" was scrolled out of sight under a scroll bar (at
    any scale factor, and at a large font)."""
    font = qapp.font()
    if points is not None:
        large = QFont(font)
        large.setPointSize(points)
        qapp.setFont(large)
    dialog = SignInDialog()
    try:
        dialog.set_values("127.0.0.1:9400", "", "", False)
        dialog.show()
        qapp.processEvents()
        assert not dialog.scroller.verticalScrollBar().isVisible()
        assert dialog.height() >= dialog.height_for(dialog.width())
        viewport = dialog.scroller.viewport()
        remember = dialog.remember
        bottom = remember.mapTo(viewport, remember.rect().bottomLeft()).y()
        assert bottom < viewport.height()  # the check box fully in sight
    finally:
        dialog.close()
        qapp.setFont(font)
