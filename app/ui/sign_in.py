"""The sign-in dialog: server address, uid, token and "remember me"."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.client.address import parse_server_address, parse_server_list
from app.client.failures import Failure
from app.protocol.ids import is_valid_name
from app.ui.assets import icon
from app.ui.contrast import text_style
from app.ui.failure_text import failure_text, fill, reach_reason
from app.ui.view_types import CertificateDetails, SignInProblem
from app.ui.window_geometry import keep_on_screen
from app.ui.wrapping_check_box import WrappingCheckBox

_FINGERPRINT = re.compile(r"(?:[0-9A-F]{2}:){31}[0-9A-F]{2}")
_BYTES_PER_LINE = 8
_MIN_WIDTH = 380

SignInDetail = str | CertificateDetails | Failure
"""A problem's details: data worded by the dialog, or words shown as they are."""


def breakable_fingerprints(text: str) -> str:
    """``text`` with a space after every 8th byte of each SHA-256 fingerprint in it: 95
    characters without a break point would not wrap, and the dialog would cut them off.
    Removing the spaces gives the fingerprint exactly as the server logs it."""
    def spaced(match: re.Match[str]) -> str:
        pairs = match.group(0).split(":")
        lines = [":".join(pairs[i:i + _BYTES_PER_LINE])
                 for i in range(0, len(pairs), _BYTES_PER_LINE)]
        return ": ".join(lines)
    return _FINGERPRINT.sub(spaced, text)


def fingerprint_lines(fingerprint: str) -> str:
    """A SHA-256 fingerprint as 4 lines of 8 bytes, to compare line by line with the one
    the operator gave (the colons stay: removing the line breaks gives it exactly)."""
    pairs = fingerprint.split(":")
    return ":\n".join(":".join(pairs[i:i + _BYTES_PER_LINE])
                       for i in range(0, len(pairs), _BYTES_PER_LINE))


def parse_address(text: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` as (host, port); ValueError when malformed."""
    return parse_server_address(text)


class SignInDialog(QDialog):
    """Emits ``sign_in_requested(host, port, uid, token, remember)``; shows problems it is given."""

    sign_in_requested = Signal(str, int, str, str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowIcon(icon("app"))
        self.setMinimumWidth(_MIN_WIDTH)
        self.logo = QLabel(self)
        self.logo.setPixmap(icon("app").pixmap(48, 48))
        self.heading = QLabel(self)
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.heading.setFont(font)
        self.address = QLineEdit(self)
        self.uid = QLineEdit(self)
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        # (made in the order they read: Tab follows the order of creation)
        self.tls = QCheckBox(self)
        self.tls.toggled.connect(lambda _: self._show_texts())
        self.encryption = QLabel(self)
        self.encryption.setWordWrap(True)
        self.remember = QCheckBox(self)
        self.remember.toggled.connect(lambda _: self._show_texts())  # (its storage note)
        # (its text wraps: one line at a large font made the dialog wider than the screen)
        self.trust_certificate = WrappingCheckBox(self)
        self.trust_certificate.hide()
        self.storage_note = QLabel(self)
        self.storage_note.setWordWrap(True)
        self.storage_note.setStyleSheet(text_style("#607d8b", self))
        self.storage_note.hide()
        self._storage_file = ""
        self._storage_lasts = True  # False: the file cannot be written (this run only)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(text_style("#c62828", self))
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        # the first connection's question: the fingerprint once, in a fixed-width font
        # (bytes line up to compare), selectable; then what to do
        self.fingerprint = QLabel(self)
        self.fingerprint.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.fingerprint.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.fingerprint.setIndent(12)
        self.fingerprint.hide()
        self.advice = QLabel(self)
        self.advice.setWordWrap(True)
        self.advice.hide()
        self.progress = QLabel(self)
        self.progress.setStyleSheet(text_style("#607d8b", self))
        self.progress.hide()
        self.buttons = QDialogButtonBox(self)
        self.ok: QPushButton = self.buttons.addButton(QDialogButtonBox.StandardButton.Ok)
        self.cancel: QPushButton = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        # Enter signs in whatever has the focus (after a failure too): only Sign in is a default
        self.ok.setDefault(True)
        self.ok.setAutoDefault(True)
        self.cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        self.labels = [QLabel(self) for _ in range(3)]
        self.form = QFormLayout()
        for label, field in zip(self.labels, (self.address, self.uid, self.token), strict=True):
            label.setBuddy(field)
            self.form.addRow(label, field)
        self.form.addRow(self.tls)
        self.form.addRow(self.encryption)
        self.form.addRow(self.remember)
        self.form.addRow(self.storage_note)
        top = QVBoxLayout()
        top.addWidget(self.logo, 0, Qt.AlignmentFlag.AlignHCenter)
        top.addWidget(self.heading, 0, Qt.AlignmentFlag.AlignHCenter)
        # everything but the buttons scrolls where the screen is too short for it (the
        # certificate question at 20 pt on an 800×600 screen): the buttons stay on it
        self.body = QWidget()
        body = self.body_layout = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(top)
        body.addLayout(self.form)
        body.addWidget(self.error)
        body.addWidget(self.fingerprint)
        body.addWidget(self.advice)
        body.addWidget(self.trust_certificate)
        body.addWidget(self.progress)
        body.addStretch(1)
        self.scroller = QScrollArea(self)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.setWidgetResizable(True)
        self.scroller.setWidget(self.body)
        self.body.setAutoFillBackground(False)
        self.scroller.viewport().setAutoFillBackground(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroller, 1)
        layout.addWidget(self.buttons)
        self._problem: tuple[SignInProblem, SignInDetail] | None = None
        for field in (self.uid, self.token):
            field.textChanged.connect(self._on_credentials_edited)
        self._busy_address = ""
        self._fingerprint = ""
        self._fitted_height = -1  # the height _fit_height last gave the dialog
        self.servers: list[tuple[str, int]] = []
        """Every server of the address field, in order, as last submitted (the signal
        names the first; the others are tried after it: nodes of one deployment)."""
        self.retranslate()

    # --- setters -----------------------------------------------------------------------------
    def set_values(self, address: str, uid: str, token: str, remember: bool) -> None:
        self.address.setText(address)
        self.uid.setText(uid)
        self.token.setText(token)
        self.remember.setChecked(remember)
        (self.uid if not uid else self.token if not token else self.address).setFocus()

    def set_tls(self, on: bool) -> None:
        self.tls.setChecked(on)
        self._show_texts()

    def set_encryption(self, fingerprint: str) -> None:
        """The server's certificate fingerprint once known ('' while unknown)."""
        self._fingerprint = fingerprint
        self._show_texts()

    def set_storage_note(self, path: str, *, lasting: bool = True) -> None:
        """Say where "remember me" keeps the token: ``path``, the token file (no system
        keyring); with ``lasting`` False, ``path`` is a file that cannot be written (the
        settings, or that token file), so it is remembered for this run only. Shown while
        "remember me" is ticked."""
        self._storage_file = path
        self._storage_lasts = lasting
        self._show_texts()

    def set_busy(self, busy: bool, address: str = "") -> None:
        """While signing in: fields disabled and a "connecting" line."""
        self._busy_address = address if busy else ""
        for widget in (self.address, self.uid, self.token, self.remember, self.tls, self.ok):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.error.hide()
        self._show_texts()

    def set_problem(self, problem: SignInProblem | None, detail: SignInDetail = "") -> None:
        """Show why signing in failed (None clears); the focus goes to the field to fix, so
        Enter tries again (it never lands on Cancel). The details are given as data (a
        certificate question, a client failure) and worded here, in the interface's
        language, again on a language switch; a ``str`` is shown as it is (the server's
        words)."""
        self._problem = None if problem is None else (problem, detail)
        asking = problem in (SignInProblem.CERT_NEW, SignInProblem.CERT_CHANGED)
        if asking:  # each question is answered afresh (a submit clears the problem only)
            self.trust_certificate.setChecked(False)
        if problem is not None:
            self.trust_certificate.setVisible(asking)
        self._show_texts()
        if problem is not None:
            field = {SignInProblem.UNREACHABLE: self.address,
                     SignInProblem.BAD_ADDRESS: self.address,
                     SignInProblem.BAD_UID: self.uid,
                     SignInProblem.REFUSED: self.token}.get(problem)
            if field is None:
                field = self.uid if not self.uid.text().strip() else self.token
            field.setFocus(Qt.FocusReason.OtherFocusReason)
            field.selectAll()

    def problem_text(self) -> str:
        return self.error.text() if self.error.isVisible() or self._problem else ""

    # --- internals ---------------------------------------------------------------------------
    def _on_credentials_edited(self) -> None:
        """"Enter your user name and token." goes once both are there (it stayed, in red,
        beside the filled fields until the next try)."""
        if (self._problem is not None and self._problem[0] is SignInProblem.MISSING
                and self.uid.text().strip() and self.token.text()):
            self.set_problem(None)

    def _submit(self) -> None:
        try:
            servers = parse_server_list(self.address.text())
        except ValueError:
            self.set_problem(SignInProblem.BAD_ADDRESS)
            self.address.setFocus()
            return
        uid, token = self.uid.text().strip(), self.token.text()
        if not uid or not token:
            self.set_problem(SignInProblem.MISSING)
            (self.uid if not uid else self.token).setFocus()
            return
        if not is_valid_name(uid):  # the server would refuse it in its own words
            self.set_problem(SignInProblem.BAD_UID)
            return
        self.set_problem(None)
        self.servers = servers
        (host, port) = servers[0]
        self.sign_in_requested.emit(host, port, uid, token, self.remember.isChecked())

    def _show_texts(self) -> None:
        if not self.tls.isChecked():
            self.encryption.setText(self.tr(
                "Not encrypted: your token and your voice cross the network in clear text."))
            self.encryption.setStyleSheet(text_style("#c62828", self))
        elif self._asking():  # (the question shows the fingerprint itself)
            self.encryption.setText(self.tr("Encrypted (TLS)."))
            self.encryption.setStyleSheet(text_style("#2e7d32", self))
        elif self._fingerprint:
            self.encryption.setText(self.tr("Encrypted (TLS). Server certificate: %1")
                                    .replace("%1", breakable_fingerprints(self._fingerprint)))
            self.encryption.setStyleSheet(text_style("#2e7d32", self))
        else:
            self.encryption.setText(self.tr(
                "Encrypted (TLS); the server's certificate is checked when you sign in."))
            self.encryption.setStyleSheet(text_style("#2e7d32", self))
        # where a token is kept matters only when one is to be kept
        self.storage_note.setVisible(bool(self._storage_file) and self.remember.isChecked())
        if self._storage_lasts:
            note = self.tr("No system keyring was found: a remembered token is kept in %1, "
                           "readable by you only.")
        else:
            note = self.tr("%1 cannot be written: “Remember me on this computer” lasts only "
                           "until Interphone quits; the next start asks you to sign in again.")
        self.storage_note.setText(note.replace("%1", self._storage_file))
        self.progress.setText(self.tr("Connecting to %1…").replace("%1", self._busy_address))
        first = (self._problem is not None and self._problem[0] is SignInProblem.CERT_NEW
                 and isinstance(self._problem[1], CertificateDetails))
        self.fingerprint.setVisible(first)
        self.advice.setVisible(first)
        if self._problem is None:
            self.error.clear()
            self.error.hide()
            self._fit_height()
            return
        problem, detail = self._problem
        address = self.address.text().strip()
        text = {
            SignInProblem.UNREACHABLE: self.tr(
                "Cannot reach the server at %1. Check the address and that the server "
                "is running.").replace("%1", address),
            SignInProblem.REFUSED: self.tr(
                "The server refused the sign-in: wrong user name or token."),
            SignInProblem.BAD_ADDRESS: self.tr(
                "The server address must look like host:port, e.g. 127.0.0.1:9400."),
            SignInProblem.MISSING: self.tr("Enter your user name and token."),
            SignInProblem.BAD_UID: self.tr(
                "A user name is 1 to 64 letters, digits, dots, underscores, hyphens or @, "
                "without spaces."),
            SignInProblem.CERT_NEW: self.tr(
                "First connection to this server. Is this its certificate's fingerprint, as "
                "the server's operator gave it to you?"),
            SignInProblem.CERT_CHANGED: self.tr(
                "WARNING: this server's certificate has changed since you accepted it. "
                "Someone may be intercepting the connection. Sign in only if the operator "
                "confirms the change."),
            SignInProblem.TLS: self.tr("The encrypted connection failed."),
            SignInProblem.OTHER: self.tr("Signing in failed."),
        }[problem]
        reason = reach_reason(detail) if isinstance(detail, Failure) else ""
        if problem is SignInProblem.UNREACHABLE and reason:
            # one sentence with the reason ("Details: Cannot reach …" said it all again)
            text = fill(self.tr("Cannot reach the server at %1: %2. Check the address and "
                                "that the server is running."), address, reason)
            detail = ""
        elif isinstance(detail, CertificateDetails) and detail.remembered is None:
            text = fill(self.tr("First connection to %1. Is this its certificate's "
                                "fingerprint, as the server's operator gave it to you?"),
                        detail.server)
            self.fingerprint.setText(fingerprint_lines(detail.fingerprint))
            self.advice.setText(self.tr("If it is, tick the box below and sign in again. If "
                                        "it is not, do not sign in: someone may be "
                                        "intercepting the connection."))
            detail = ""
        elif isinstance(detail, CertificateDetails):  # changed: said once, then the facts
            text = fill(self.tr("WARNING: the certificate of %1 has changed since you accepted "
                                "it. Someone may be intercepting the connection."),
                        detail.server)
            detail = self._certificate_text(detail)
        elif isinstance(detail, Failure):
            detail = failure_text(detail)
        if detail:
            text += "\n" + self.tr("Details: %1").replace("%1", breakable_fingerprints(detail))
        self.error.setText(text)
        self.error.show()
        self._fit_height()

    def _asking(self) -> bool:
        return self._problem is not None and self._problem[0] in (SignInProblem.CERT_NEW,
                                                                  SignInProblem.CERT_CHANGED)

    def _certificate_text(self, details: CertificateDetails) -> str:
        """A changed certificate's details, what the warning above them does not say: the
        fingerprint accepted before, the one presented now, and what to do."""
        return fill(self.tr(
            "You accepted %1; the server now presents %2. Ask the server's operator: only if "
            "they confirm this new fingerprint, tick the box below and sign in again."),
            details.remembered or "", details.fingerprint)

    def _fit_height(self) -> None:
        """Grow (or let shrink) to the height the wrapped texts need at this width: the
        layout does not size the window itself, since the dialog has a minimum width of its
        own, and without this a problem or the fingerprint question would be drawn over the
        other lines and cut off at the bottom. Where the screen is too short for that (a
        large font: 20 pt on an 800×600 screen put Sign in and Cancel below it), the dialog
        widens so that the texts take fewer lines, and stays on the screen."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        self.body_layout.activate()
        margins = layout.contentsMargins()
        sides = margins.left() + margins.right()
        self.setMinimumWidth(max(_MIN_WIDTH, self.body_layout.totalMinimumSize().width() + sides,
                                 self.buttons.minimumSizeHint().width() + sides))
        width = max(self.width(), self.minimumWidth())
        height_at = self.height_for
        room = self._room()
        for decorated in (True, False):
            # the logo and the heading (the window's title says it too) go only where the
            # texts do not fit on the screen otherwise
            self.logo.setVisible(decorated)
            self.heading.setVisible(decorated)
            self.body_layout.invalidate()
            layout.invalidate()
            needed = height_at(width)
            if room is None or needed <= room.height():
                break
            wider = width
            while wider < room.width() and height_at(wider) > room.height():
                wider = min(wider + 20, room.width())
            if height_at(wider) <= room.height() or not decorated:
                width, needed = wider, height_at(wider)
                break
        if room is not None:  # (more than the screen has: the texts scroll)
            needed = min(needed, room.height())
        self.setMinimumHeight(needed)
        # a height this method chose follows the texts down too (a shorter problem after a
        # longer one left a blank band above it); one the user chose only grows
        fitted = self.height() == self._fitted_height
        if self.height() < needed or self.width() < width or (fitted and self.height() > needed):
            self.resize(width, needed if fitted else max(self.height(), needed))
        if self.height() == needed:  # fitted (here or by the layout growing the window)
            self._fitted_height = needed
        if room is not None and self.isVisible():
            keep_on_screen(self)

    def height_for(self, width: int) -> int:
        """The dialog's height that shows all its texts unscrolled at ``width``."""
        layout, body = self.layout(), self.body_layout
        if layout is None:
            return self.height()
        margins = layout.contentsMargins()
        inner = width - margins.left() - margins.right()
        texts = body.totalHeightForWidth(inner) if body.hasHeightForWidth() \
            else body.totalMinimumSize().height()
        return (margins.top() + texts + layout.spacing() + self.buttons.sizeHint().height()
                + margins.bottom())

    def _room(self) -> QSize | None:
        """The room the screen has for the dialog's inside (its frame taken away)."""
        screen = self.screen()
        if screen is None:
            return None
        frame, room = self.frameGeometry(), screen.availableGeometry()
        return QSize(room.width() - (frame.width() - self.width()),
                     room.height() - (frame.height() - self.height()))

    def showEvent(self, event: QShowEvent) -> None:
        # fitted again at the width the dialog opens at: before it was first shown it had
        # Qt's 640-pixel default width, at which the texts take fewer lines, so it opened
        # too short and "Remember me" was scrolled out of sight
        if not event.spontaneous():
            self._fit_height()
        super().showEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Sign in to Interphone"))
        self.heading.setText(self.tr("Interphone"))
        texts = (self.tr("&Server:"), self.tr("&User:"), self.tr("&Token:"))
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)
        self.address.setPlaceholderText(
            self.tr("host:port, e.g. 127.0.0.1:9400 (several: a:9400, b:9400)"))
        self.uid.setPlaceholderText(self.tr("your user name"))
        self.token.setPlaceholderText(self.tr("your password or token"))
        self.remember.setText(self.tr("&Remember me on this computer"))
        self.tls.setText(self.tr("&Encrypted connection (TLS)"))
        # (Alt+F: "&Token" has T, and a shared letter only moves the focus between the two)
        self.trust_certificate.setText(self.tr("I checked the &fingerprint: trust this "
                                               "certificate for this server"))
        self.ok.setText(self.tr("Sign &in"))
        self.cancel.setText(self.tr("Cancel"))
        self._show_texts()
