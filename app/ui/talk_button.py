"""The large round push-to-talk button: press and hold to talk.

It only reports the user's intent (``talk_pressed`` / ``talk_released``) and
shows the state it is given with :meth:`TalkButton.set_state`; the floor
logic lives elsewhere. Tab reaches it (a click does not focus it), and the talk key
stays the window's when it has the focus (:mod:`app.ui.talk_key` does not leave the
key to this button): Space held there talks as anywhere in the window, while Return
(and Space, where another key talks) activates it as a screen reader's press does.

It is a :class:`QAbstractButton` for assistive technology only: Qt's accessible
interface of a button gives it the push-button role (a plain widget was read out as
a generic element), and its pressed state is the floor being ours (``setDown`` while
talking). Its presses are its own (below): the base's click handling never runs (it
is never hit), so a press, a hold and a release do what they did. A screen reader's
"press" action (the base's click) cannot hold: it emits ``talk_toggled``, which
latches the talk until the next press (:mod:`app.ui.talk_intents`); the accessible
name and description say whether it is latched (:meth:`TalkButton.set_latched`).
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QFontInfo,
    QFontMetricsF,
    QHideEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

from app.ui.contrast import text_on
from app.ui.failure_text import fill
from app.ui.fit_lines import fit_lines, joined
from app.ui.floor_text import queue_text
from app.ui.view_ticker import ViewTicker
from app.ui.view_types import TalkState

# fill colour of the disc per state
_COLOURS: dict[TalkState, str] = {
    TalkState.IDLE: "#2e7d32",
    TalkState.REQUESTING: "#f9a825",
    TalkState.TALKING: "#c62828",
    TalkState.QUEUED: "#1565c0",
    TalkState.BUSY: "#ef6c00",
    TalkState.DENIED: "#6d4c41",
    TalkState.NOT_JOINED: "#78909c",
    TalkState.OFFLINE: "#9e9e9e",
}
WARNING_COLOURS: dict[int, str] = {10: "#ef6c00", 3: "#6a1b9a"}
"""The disc while talking, once fewer than 10 s / 3 s of the talk limit are left."""
REFUSED_FEEDBACK_MS = 900
RING_STEP_PX = 2.5
"""The countdown ring is redrawn when its end moved this far (or the seconds changed)."""
MIN_SIDE, _MIN_SIDE_TEXT_PX = 120, 12  # px: the least width and height at a 12-pixel text
JOIN, CALL = "join", "call"  # what a click does while not joined (set_join_offer)
_PRESSABLE = {TalkState.IDLE, TalkState.REQUESTING, TalkState.TALKING, TalkState.BUSY,
              TalkState.DENIED, TalkState.QUEUED}


def format_seconds(seconds: float) -> str:
    """``m:ss`` for a duration in seconds, whole seconds passed (rounded down: a clock
    that counts up; negative counts as zero)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def format_length(seconds: float) -> str:
    """``m:ss`` for the length of a clip: to the nearest second (1.8 s is 0:02), and at
    least 0:01 when there is any audio at all (0:00 only for none)."""
    if seconds <= 0:
        return format_seconds(0)
    return format_seconds(max(1, math.floor(seconds + 0.5)))


def turn_seconds(elapsed: float, limit: float) -> tuple[int, int]:
    """(whole seconds talked, whole seconds left) ``elapsed`` seconds into a turn of at
    most ``limit`` seconds, both from one rounding (the time talked rounded down, as the
    speaking line counts it), so that they always add up to the limit: rounding each on
    its own, from clocks started a moment apart, showed 0:03 talked and 0:58 left of
    60 s. "0:00 left" only once the turn is over."""
    total = math.ceil(max(0.0, limit))
    talked = min(total, max(0, int(elapsed)))
    return talked, total - talked


class TalkButton(QAbstractButton):
    """Round press-and-hold button showing the talk state at a glance."""

    talk_pressed = Signal()
    talk_released = Signal()
    join_clicked = Signal()
    """A click while it says "Join to talk" (or "Call"): the panel joins the interphone
    shown (calls the contact)."""
    offline_pressed = Signal()
    """A press while it says "Offline": nothing to talk to (the presenter says why)."""
    talk_toggled = Signal()
    """A screen reader's "press" action where a press talks: start talking until the
    next one, or stop a talk so started."""

    def __init__(self, parent: QWidget | None = None, ticker: ViewTicker | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # (a click leaves the focus where it is)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        # it paints its whole rectangle (the background first), so the countdown repaints
        # the button alone, not the panel and window behind it
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        # that background is the window's, as around it (a button's own role, Button, is
        # another colour on dark themes: a box showed round the disc)
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.setAutoRepeat(False)
        self._state = TalkState.NOT_JOINED
        self._holder = ""
        self._detail = ""
        self._deadline: float | None = None  # monotonic time the grant ends
        self._max_talk = 0.0
        self._held = False  # the user holds the button down (mouse)
        self._latched = False  # talking until the next press (set_latched)
        self._toggle_mode = False  # a press starts talking, the next one stops it
        self._join_press = False  # a press while it says "Join to talk" (a click joins)
        # not joined, what a click does: "join", "call" (a contact), "" (nothing selected)
        self._join_offer = JOIN
        self._join_enabled = True  # (a contact shown offline cannot be called)
        self._join_hint = ""  # why the offer is disabled
        self._key_name = "Space"
        self._ticker = ticker if ticker is not None else ViewTicker(self)
        """Shared with the panel's clock and the presenter's audio tick (one wake-up)."""
        self._countdown_drawn: tuple[str, float] = ("", 0.0)  # (text, ring's fraction)
        self._countdown_due = 0.0  # monotonic: no countdown tick needs to look before
        self._face_cache: tuple[tuple[object, ...], QPixmap] | None = None
        self._refused = False  # a press was just refused: shown for REFUSED_FEEDBACK_MS
        self._retry = False  # DENIED, but not a refusal of permission
        self._refused_timer = QTimer(self)
        self._refused_timer.setSingleShot(True)
        self._refused_timer.setInterval(REFUSED_FEEDBACK_MS)
        self._refused_timer.timeout.connect(self._end_refused)
        self.clicked.connect(self._on_press_action)
        self._update_accessibility()

    # --- setters -----------------------------------------------------------------------------
    def set_state(self, state: TalkState, holder: str = "", detail: str = "",
                  deadline: float | None = None, max_talk: float = 0.0, *,
                  retry: bool = False) -> None:
        """Show ``state``; ``holder`` is who speaks (BUSY), ``detail`` why (DENIED), where
        it talks (IDLE, TALKING) or where the holder speaks (BUSY) when another interphone
        is shown, ``deadline`` the monotonic time a TALKING grant ends after ``max_talk``
        seconds;
        ``retry``: DENIED for another reason than permission (titled "Try again")."""
        self._state, self._holder, self._detail = state, holder, detail
        self._retry = retry
        self._deadline, self._max_talk = deadline, max_talk
        if state is TalkState.TALKING and deadline is not None:
            self._ticker.subscribe(self._on_countdown_tick)
        else:
            self._ticker.unsubscribe(self._on_countdown_tick)
        if state not in _PRESSABLE and self._held:
            self._release()
        self.setDown(state is TalkState.TALKING)  # a screen reader's "pressed"
        self._update_accessibility()
        self.update()

    def set_join_offer(self, offer: str, enabled: bool = True, hint: str = "") -> None:
        """What a click does while not joined: ``JOIN`` ("Join to talk"), ``CALL`` ("Call"
        a contact; not ``enabled`` while it is offline, ``hint`` saying so), or ``""``
        (nothing selected: no action, a hint to pick an interphone)."""
        if (offer, enabled, hint) == (self._join_offer, self._join_enabled, self._join_hint):
            return
        self._join_offer, self._join_enabled, self._join_hint = offer, enabled, hint
        if not self._joins():
            self._join_press = False
        self._update_accessibility()
        self.update()

    def _joins(self) -> bool:
        """A click joins (calls): not joined, with something selected to join or call."""
        return self._state is TalkState.NOT_JOINED and bool(self._join_offer) \
            and self._join_enabled

    def show_refused(self) -> None:
        """A press could not take the floor (someone speaks): show it for a moment."""
        self._refused = True
        self._refused_timer.start()
        self._update_accessibility()
        self.update()

    @property
    def refused(self) -> bool:
        return self._refused

    def set_latched(self, latched: bool) -> None:
        """A talk started by a press runs until the next press (the accessible name and
        description say so)."""
        if latched != self._latched:
            self._latched = latched
            self._update_accessibility()

    @property
    def latched(self) -> bool:
        return self._latched

    def set_toggle_mode(self, toggle: bool) -> None:
        """Its texts say "press" (a press starts talking, the next one stops) or "hold"."""
        self._toggle_mode = toggle
        self._update_accessibility()
        self.update()

    def set_key_name(self, name: str) -> None:
        """The talk key shown in the hint (e.g. ``Space``)."""
        self._key_name = name
        self._update_accessibility()  # (the tooltip names it too)
        self.update()

    @property
    def state(self) -> TalkState:
        return self._state

    def warning_level(self) -> int:
        """10 or 3 once fewer than that many seconds of the talk limit are left, else 0."""
        if self._state is not TalkState.TALKING or self._deadline is None:
            return 0
        left = self._deadline - time.monotonic()
        return next((level for level in (3, 10) if left <= level), 0)

    def colour(self) -> str:
        """The disc's fill colour now (the talk-limit warnings change it; grey while a
        click does nothing: nothing selected, a contact offline)."""
        if self._state is TalkState.NOT_JOINED and not self._joins():
            return _COLOURS[TalkState.OFFLINE]
        return WARNING_COLOURS.get(self.warning_level(), _COLOURS[self._state])

    @property
    def held(self) -> bool:
        return self._held

    def texts(self, now: float | None = None) -> tuple[str, str]:
        """The two lines shown in the disc (title, detail), at ``now`` (monotonic)."""
        state = self._state
        if state is TalkState.IDLE and self._toggle_mode:
            return self.tr("Press to talk"), self._detail or self.tr("or press %1").replace(
                "%1", self._key_name)
        if state is TalkState.IDLE:  # detail: where it talks, when another row is shown
            return self.tr("Hold to talk"), self._detail or self.tr("or hold %1").replace(
                "%1", self._key_name)
        if state is TalkState.REQUESTING:
            return self.tr("Requesting…"), ""
        if state is TalkState.QUEUED:
            position = int(self._detail) if self._detail.isdigit() else 0
            return self.tr("Waiting"), queue_text(position)
        if state is TalkState.TALKING:
            if self._deadline is None:
                return self.tr("Talking"), (self.tr("Into %1").replace("%1", self._detail)
                                            if self._detail else "")
            # what the speaking line's elapsed time leaves (turn_seconds): the two add up
            now = time.monotonic() if now is None else now
            left = format_seconds(self._turn_seconds(now)[1])
            if self._detail:  # the talk target, when another interphone is shown
                return self.tr("Talking"), fill(self.tr("Into %1 · %2 left"), self._detail,
                                                left)
            return self.tr("Talking"), self.tr("%1 left").replace("%1", left)
        if state is TalkState.BUSY:  # detail: the talk target, when another row is shown
            title = self.tr("Wait") if self._refused else self.tr("Busy")
            if self._holder and self._detail:
                return title, fill(self.tr("%1 is speaking in %2"), self._holder, self._detail)
            return title, (self.tr("%1 is speaking").replace("%1", self._holder)
                           if self._holder else "")
        if state is TalkState.DENIED:
            return (self.tr("Try again") if self._retry else self.tr("Denied")), self._detail
        if state is TalkState.NOT_JOINED:
            if self._join_offer == CALL:
                return self.tr("Call"), self._join_hint
            if not self._join_offer:
                return self.tr("Nothing selected"), self.tr("Pick an interphone")
            return self.tr("Join to talk"), self._join_hint
        return self.tr("Offline"), ""

    # --- events ------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(220, 220).expandedTo(self.minimumSizeHint())

    def minimumSizeHint(self) -> QSize:
        """Small enough for a 640x480 window with the call and emergency banners; in
        proportion at a large text (at 18 pt the least disc read "Hold t…")."""
        side = max(MIN_SIDE, MIN_SIDE * QFontInfo(self.font()).pixelSize() // _MIN_SIDE_TEXT_PX)
        return QSize(side, side)

    def hitButton(self, pos: QPoint) -> bool:
        """Never: the base's own click handling (press, move, release, ``clicked``) does
        not run; the handlers below decide what a press does."""
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._state in _PRESSABLE \
                and self._inside(event.position().x(), event.position().y()):
            if self._state is TalkState.BUSY:
                self.show_refused()
            self._held = True
            self.update()
            self.talk_pressed.emit()
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._state is TalkState.OFFLINE \
                and self._inside(event.position().x(), event.position().y()):
            self.offline_pressed.emit()
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._joins() \
                and self._inside(event.position().x(), event.position().y()):
            self._join_press = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._held:
            self._release()
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._join_press:
            self._join_press = False
            if self._joins() and self._inside(event.position().x(), event.position().y()):
                self.join_clicked.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.Polish, QEvent.Type.StyleChange):
            # a style's polish of a button clears it; the button still paints its whole
            # rectangle, and the countdown's repaints must not reach the panel behind it
            self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        return handled

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._update_accessibility()
            self.update()
        elif event.type() == QEvent.Type.EnabledChange and not self.isEnabled() and self._held:
            self._release()
        super().changeEvent(event)
        if event.type() == QEvent.Type.EnabledChange:  # (the base lets go of "down")
            self.setDown(self._state is TalkState.TALKING)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()  # the focus ring

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()

    def hideEvent(self, event: QHideEvent) -> None:
        if self._held:
            self._release()
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """The face (disc and title) from a pixmap made again only when it changes, the
        countdown ring and the detail line over it (they change while the rest stays: a
        repaint is one copy, one arc and one line of text, not an antialiased disc too)."""
        now = time.monotonic()
        title, detail = self.texts(now)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._face(title))
        disc = self._disc()
        left = self._ring_fraction(now)
        if self._state is TalkState.TALKING:
            self._countdown_drawn = (detail, left)
            self._countdown_due = self._next_countdown_change(now, left)
            if self._deadline and self._max_talk > 0:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setPen(QPen(QColor("white"), 5, Qt.PenStyle.SolidLine,
                                    Qt.PenCapStyle.RoundCap))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawArc(disc.adjusted(6, 6, -6, -6), 90 * 16, int(360 * 16 * left))
        if self.hasFocus():  # the keyboard's focus: a ring in the highlight colour round the disc
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 3,
                                Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(disc.adjusted(-2.5, -2.5, 2.5, 2.5))
        if detail:  # the line that changes (the countdown's seconds): drawn each time
            painter.setFont(self.detail_font())
            painter.setPen(text_on(self._fill()))
            painter.drawText(self.detail_rect(),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                             "\n".join(self.detail_lines(detail)))
        painter.end()

    def _face(self, title: str) -> QPixmap:
        """Background, disc and title, drawn once for each look."""
        colour = self._fill()
        background = self.palette().color(self.backgroundRole())
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, colour.rgba(), background.rgba(),
               self._refused, title, self.font().key())
        if self._face_cache is not None and self._face_cache[0] == key:
            return self._face_cache[1]
        pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(background)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        disc = self._disc()
        outline = QPen(colour.darker(140), 3)
        if self._refused:  # a thick warning ring: the press did not get the floor
            outline = QPen(QColor("#ffca28"), 8)
        painter.setPen(outline)
        painter.setBrush(colour)
        painter.drawEllipse(disc)
        painter.setPen(text_on(colour))  # white, or dark where white would not read
        font, lines = self.title_lines(title)
        painter.setFont(font)
        painter.drawText(self.title_rect(),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                         "\n".join(lines))
        painter.end()
        self._face_cache = (key, pixmap)
        return pixmap

    # --- internals ---------------------------------------------------------------------------
    def _turn_seconds(self, now: float) -> tuple[int, int]:
        """:func:`turn_seconds` of the grant at ``now`` (it began ``max_talk`` before its
        deadline; without a known limit, only the time left counts)."""
        assert self._deadline is not None
        if self._max_talk <= 0:
            return 0, math.ceil(max(0.0, self._deadline - now))
        return turn_seconds(now - (self._deadline - self._max_talk), self._max_talk)

    def _ring_fraction(self, now: float) -> float:
        """The share of the talk limit left, as the ring shows it (1: all of it)."""
        if self._deadline is None or self._max_talk <= 0:
            return 0.0
        return max(0.0, self._deadline - now) / self._max_talk

    def _next_countdown_change(self, now: float, fraction: float) -> float:
        """When the countdown drawn at ``now`` may need a repaint: its seconds (rounded
        up) go down by one, or its ring's end has moved ``RING_STEP_PX``."""
        if self._deadline is None:
            return math.inf
        seconds = self._turn_seconds(now)[1]
        due = self._deadline - (seconds - 1) if seconds > 0 else math.inf
        radius = self._disc().width() / 2 - 6
        if self._max_talk > 0 and radius > 0:
            ring_due = self._deadline - self._max_talk * (
                fraction - RING_STEP_PX / (2 * math.pi * radius))
            due = min(due, ring_due)
        return due - 0.001  # a rounding's worth early: the check below decides

    def _on_countdown_tick(self, now: float) -> None:
        """Each view tick while talking: repaint only when the countdown's text changed or
        its ring's end moved ``RING_STEP_PX`` (as often as the old 4 Hz tick moved it at
        a 60 s limit, less for longer limits, and always on the shared tick). Before the
        next change the paint foresaw, nothing to compute (9 ticks in 10 while talking)."""
        if now < self._countdown_due:
            return
        text, fraction = self._countdown_drawn
        radius = self._disc().width() / 2 - 6
        moved = abs(fraction - self._ring_fraction(now)) * 2 * math.pi * radius
        if moved >= RING_STEP_PX or self.texts(now)[1] != text:
            self.update()

    def title_font(self) -> QFont:
        """The disc's title: a tenth of the disc, and never smaller than the desktop's
        text (a large-font desktop got a small disc's 18 px title under 24 px labels)."""
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(12, int(self._disc().width() * 0.10),
                              round(QFontInfo(self.font()).pixelSize() * 1.3)))
        return font

    def title_rect(self) -> QRectF:
        """Where the disc's title ("Hold to talk", "Busy"...) is drawn."""
        disc = self._disc()
        size = disc.width()
        return QRectF(disc.left() + size * 0.1, disc.top() + size * 0.25, size * 0.8, size * 0.3)

    def title_lines(self, title: str) -> tuple[QFont, list[str]]:
        """The title's font and its lines in :meth:`title_rect`: :meth:`title_font`, or a
        smaller one down to the desktop's text size where its words would be cut at that
        size (a small disc at 200 %, a 1366×768 laptop's window, read "Hold to …")."""
        font = self.title_font()
        box = self.title_rect()
        least = QFontInfo(self.font()).pixelSize()
        whole = "".join(title.split())
        while True:
            metrics = QFontMetricsF(font)
            lines = fit_lines(title, metrics, box.width(),
                              max(1, int(box.height() // metrics.lineSpacing())))
            if joined(lines) == whole or font.pixelSize() <= least:
                return font, lines
            font.setPixelSize(font.pixelSize() - 1)

    def detail_font(self) -> QFont:
        """The disc's second line: 6.5 % of the disc, at least the desktop's text size."""
        font = QFont(self.font())
        font.setPixelSize(max(10, int(self._disc().width() * 0.065),
                              QFontInfo(self.font()).pixelSize()))
        return font

    def detail_lines(self, detail: str) -> list[str]:
        """The second line's lines in :meth:`detail_rect` at :meth:`detail_font`."""
        metrics, box = QFontMetricsF(self.detail_font()), self.detail_rect()
        return fit_lines(detail, metrics, box.width(),
                         max(1, int(box.height() // metrics.lineSpacing())))

    def detail_cut(self) -> bool:
        """The second line, as shown now, is cut with "…" (a small disc)."""
        lines = self.detail_lines(self.texts()[1]) if self.texts()[1] else []
        return bool(lines) and lines[-1].endswith("…")

    def _fill(self) -> QColor:
        """The disc's colour as drawn (darker while held)."""
        colour = QColor(self.colour())
        return colour.darker(125) if self._held else colour

    def detail_rect(self) -> QRectF:
        """Where the disc's second line (who speaks, the time left…) is drawn."""
        disc = self._disc()
        size = disc.width()
        return QRectF(disc.left() + size * 0.12, disc.top() + size * 0.57,
                      size * 0.76, size * 0.25)

    def _disc(self) -> QRectF:
        side = min(self.width(), self.height(), 340) - 8
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _inside(self, x: float, y: float) -> bool:
        disc = self._disc()
        dx, dy = x - disc.center().x(), y - disc.center().y()
        return dx * dx + dy * dy <= (disc.width() / 2) ** 2

    def _on_press_action(self) -> None:
        """A click from the base: only assistive technology's "press" action makes one
        (the base's ``animateClick``). It joins (calls) as a click would, starts or
        stops a latched talk where a press talks, says why not while offline; the pressed
        state goes back to the floor's."""
        self.setDown(self._state is TalkState.TALKING)
        if self._joins():
            self.join_clicked.emit()
        elif self._state in _PRESSABLE or self._latched:
            self.talk_toggled.emit()
        elif self._state is TalkState.OFFLINE:
            self.offline_pressed.emit()

    def _end_refused(self) -> None:
        self._refused = False
        self._update_accessibility()
        self.update()

    def _release(self) -> None:
        self._held = False
        self.update()
        self.talk_released.emit()

    def _update_accessibility(self) -> None:
        self.setAccessibleName(self.tr("Stop talking") if self._latched
                               else self.tr("Push to talk"))
        self.setAccessibleDescription(self._description())
        tip = (self.tr("Press to start talking, press again to stop (or press %1)")
               if self._toggle_mode else self.tr("Press and hold to talk (or hold %1)"))
        self.setToolTip(tip.replace("%1", self._key_name))

    def _description(self) -> str:
        """What the button does now, for a screen reader: latched, how to stop; else the
        disc's two lines, and where a press starts talking, that it latches."""
        if self._latched:
            if self._state is TalkState.TALKING:
                return self.tr("Talking. Press again to stop.")
            if self._state is TalkState.QUEUED:
                return self.tr("Waiting in line to talk. Press again to stop.")
            return self.tr("Asking to talk. Press again to stop.")
        title, detail = self.texts()
        text = fill(self.tr("%1, %2"), title, detail) if detail else title
        if self._state in _PRESSABLE and self._state is not TalkState.TALKING:
            text = fill(self.tr("%1. Press to talk until you press again."), text)
        return text
