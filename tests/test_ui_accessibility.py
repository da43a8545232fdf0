"""The window for a screen-reader or keyboard-only user: every control says what it does,
the member list is reached by Tab, the status changes that matter are announced, a dark
theme keeps the text readable."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QAccessible,
    QColor,
    QFont,
    QFontInfo,
    QFontMetricsF,
    QImage,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QApplication,
    QComboBox,
    QTabWidget,
    QWidget,
)
from test_ui_floor import opus_frames
from test_ui_new_user import tab_cycle
from test_ui_support import OPS, close_session, open_session, run, start_server, until

from app.client.model import ConnectionState
from app.ui.assets import icon
from app.ui.audio_bar import AudioBar
from app.ui.contrast import contrast_ratio, is_dark, luminance
from app.ui.elided_note import ElidedNote
from app.ui.floor_widgets import ReplayItem
from app.ui.global_key_edit import GlobalTalkKeyEdit
from app.ui.interphone_list import SUBTITLE_ROLE
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import SettingsDialog
from app.ui.talk_button import TalkButton, fit_lines
from app.ui.tray_icon import tray_icon
from app.ui.view_types import InterphoneRow, RowKind, TalkState

pytest_plugins = ["test_ui_support"]
LONG_NAME = "Alice Wolfeschlegelsteinhausenbergerdorff"


def accessible(widget: QWidget, text: QAccessible.Text = QAccessible.Text.Name) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(text)


def controls(window: QWidget) -> list[QWidget]:
    """The visible widgets a user operates (buttons, sliders, anything Tab reaches; the
    widget a screen reader speaks of, not the part inside that takes its focus)."""
    found = []
    for widget in window.findChildren(QWidget):
        if not (widget.isVisibleTo(window) and widget.isEnabled()) \
                or widget.focusProxy() is not None:
            continue
        parent = widget.parentWidget()
        if parent is not None and parent.focusProxy() is widget \
                and not isinstance(parent, GlobalTalkKeyEdit):  # (its field: the one named)
            widget = parent
        if isinstance(widget, QAbstractButton | QAbstractSlider) \
                or widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            found.append(widget)
    return found


def says_something(text: str) -> bool:
    """A name a screen reader can read out: at least one letter (not "▶" or "")."""
    return any(unicodedata.category(char).startswith("L") for char in text)


async def alice_talks(ui, frames: int = 15) -> None:
    alice = ui.others[0]
    assert await alice.talk_start()
    for frame in opus_frames(frames):
        alice.send_audio(frame)
        await asyncio.sleep(0.02)
    await alice.talk_stop()


def test_every_control_of_the_window_has_a_name_that_says_what_it_does(qloop, ui) -> None:
    """The replay rows' play buttons were read out as "▶" (their face), all alike."""
    async def scenario() -> None:
        await ui.other("alice")
        await alice_talks(ui)
        await until(lambda: len(ui.presenter.replay_items(OPS)) == 1, what="stored")
        ui.window.notify_incoming_call("chat_bob:me", "Bob")
        QApplication.processEvents()
        found = controls(ui.window)
        replay = ui.window.panel.replay
        play = replay.play_button(0)
        assert play in found and ui.window.banner.answer in found
        unnamed = [(type(widget).__name__, accessible(widget)) for widget in found
                   if not says_something(accessible(widget))]
        assert unnamed == []
        assert "Alice" in accessible(play) and "Play again" in accessible(play)
        assert "Bob" in accessible(ui.window.banner.answer, QAccessible.Text.Description)
        assert "Bob" in accessible(ui.window.banner.dismiss, QAccessible.Text.Description)

    run(qloop, scenario(), timeout=20)


def test_a_screen_reader_reads_whole_names_and_names_the_replay_list_and_meters(
        qtbot) -> None:
    """A replay row's name cut to fit ("Alice Wolfeschlegels…") was read out cut; the
    replay list and the level meters had no name."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.panel.replay.set_items([ReplayItem(1, LONG_NAME, "12:01:02", 3.2, False)])
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    try:
        QApplication.processEvents()
        row = window.panel.replay.list.itemWidget(window.panel.replay.list.item(0))
        shown = row.name.text()
        assert shown.endswith("…")  # cut on screen
        assert accessible(row.name) == LONG_NAME
        assert accessible(window.panel.replay.list) == "Replay"
        assert accessible(window.audio_bar.input_meter) == "Microphone level"
        assert accessible(window.audio_bar.output_meter) == "Speaker level"
    finally:
        window.talk_key.detach()

def test_a_screen_reader_going_down_the_replay_list_reads_each_row(qtbot) -> None:
    """The replay rows are drawn by widgets set on empty list items: a screen reader going
    down the list (its rows, not Tab over the play buttons) read every row as blank."""
    window = MainWindow()
    qtbot.addWidget(window)
    replay = window.panel.replay
    replay.set_items([ReplayItem(2, "Alice", "12:01:09", 3.2, False),
                      ReplayItem(1, "Bob", "12:01:02", 1.0, True)])
    window.show()
    qtbot.waitExposed(window)
    try:
        listing = QAccessible.queryAccessibleInterface(replay.list)
        assert listing is not None
        said = [listing.child(index).text(QAccessible.Text.Name)
                for index in range(listing.childCount())]
        assert said == ["Alice at 12:01:09 (0:03), not heard yet", "Bob at 12:01:02 (0:01)"]
        replay.set_items([ReplayItem(2, "Alice", "12:01:09", 3.2, True),
                          ReplayItem(1, "Bob", "12:01:02", 1.0, True)])  # heard now
        assert listing.child(0).text(QAccessible.Text.Name) == "Alice at 12:01:09 (0:03)"
    finally:
        window.talk_key.detach()


def test_a_screen_reader_hears_each_rows_kind_with_its_state(qtbot) -> None:
    """Going down the list, a screen reader reads each row's name and description, not
    the section heading it sits under: "Ops, Talk target · bob speaking · 3 members" did
    not say whether Ops is a group, a discussion or a one-to-one call."""
    window = MainWindow()
    qtbot.addWidget(window)
    rows = [InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "bob", True, True, muted=True),
            InterphoneRow("discuss_12", RowKind.DISCUSS, "Night shift", 1),
            InterphoneRow("chat_alice:me", RowKind.CHAT, "Alice", online=True)]
    window.set_rows(rows)
    window.show()
    qtbot.waitExposed(window)
    try:
        tree = QAccessible.queryAccessibleInterface(window.interphones.tree)
        assert tree is not None
        said = {}
        for index in range(tree.childCount()):
            child = tree.child(index)
            said[child.text(QAccessible.Text.Name)] = child.text(QAccessible.Text.Description)
        assert said["Ops"] == "Group · Talk target · Muted · bob speaking · 3 members"
        assert said["Night shift"] == "Discussion · 1 member"
        assert said["Alice"] == "One-to-one call · Online · Not active"
        assert window.interphones.tree.findItems(
            "Ops", Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)[0].data(
            0, SUBTITLE_ROLE) == "Talk target · Muted · bob speaking · 3 members"  # as drawn
    finally:
        window.talk_key.detach()


def test_the_interphone_list_shows_when_it_has_the_keyboard_focus(qtbot) -> None:
    """Tab reached the list and nothing on screen changed: its rows are painted by the
    app, which drew no focus outline, and the selected row looked the same either way."""
    window = MainWindow()
    qtbot.addWidget(window)
    rows = [InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True),
            InterphoneRow("group_59", RowKind.GROUP, "Maintenance")]
    window.set_rows(rows)
    window.show_interphone(rows[0])
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    try:
        tree = window.interphones.tree
        rect = tree.visualItemRect(window.interphones._items[OPS])
        window.interphones.filter.setFocus()
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is tree
        focused = tree.viewport().grab(rect).toImage()
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is not tree
        unfocused = tree.viewport().grab(rect).toImage()
        assert focused != unfocused
    finally:
        window.talk_key.detach()

def test_every_field_of_the_settings_is_named_by_its_label(qtbot) -> None:
    """The global talk key's field (inside the row's widget with its Turn off button)
    was read out without a name: its label names the row's widget, not the field."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(1)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert accessible(dialog.global_key.field) == "Global talk key"
    unnamed = [(type(widget).__name__, widget.objectName()) for widget in controls(dialog)
               if not isinstance(widget, QComboBox)  # (on Linux: named by its label's relation)
               and not isinstance(widget, QTabWidget)  # (its tab bar: named by the tab)
               and not says_something(accessible(widget))]
    assert unnamed == []

def test_tab_reaches_the_member_list(qtbot) -> None:
    """The member list took no focus: a keyboard or screen-reader user could not go
    through who is in the interphone, nor read a name the narrow list shortens."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        members = window.panel.members
        chain, widget = [], window.interphones.filter.nextInFocusChain()
        while widget is not window.interphones.filter and len(chain) < 2000:
            chain.append(widget)
            widget = widget.nextInFocusChain()
        assert members in chain
        assert members.focusPolicy() & Qt.FocusPolicy.TabFocus
        assert accessible(members) == "Members"
        # Space held there still talks (the list is no button)
        talked: list[str] = []
        window.talk_pressed.connect(lambda: talked.append("press"))
        members.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.keyPress(window.windowHandle(), Qt.Key.Key_Space)
        qtbot.keyRelease(window.windowHandle(), Qt.Key.Key_Space)
        assert talked == ["press"]
    finally:
        window.talk_key.detach()


def announcements(window: MainWindow) -> list[tuple[str, bool]]:
    said: list[tuple[str, bool]] = []
    window.announcer.announced.connect(lambda text, urgent: said.append((text, urgent)))
    return said


def test_speaking_the_floor_and_the_connection_are_announced(qloop, settings) -> None:
    """Nothing was said to a screen reader: a blind user did not know that alice spoke,
    that the floor was free, or that the connection was gone, without moving the focus
    to the talk button or the status bar. (The floor granted is the permit tone's.)"""
    server = start_server(qloop)

    async def scenario() -> None:
        ui = await open_session(server, settings)
        window, button = ui.window, ui.window.panel.talk_button
        said = announcements(window)
        try:
            await ui.other("alice")
            assert await ui.others[0].talk_start()
            await until(lambda: button.state is TalkState.BUSY, what="busy")
            assert ("Alice is speaking", False) in said
            await ui.others[0].talk_stop()
            await until(lambda: button.state is TalkState.IDLE, what="free")
            assert said[-1] == ("Nobody is speaking: you may talk", False)
            window.talk_pressed.emit()
            await until(lambda: button.state is TalkState.TALKING, what="talking")
            assert said[-1] == ("Nobody is speaking: you may talk", False)  # (the tone)
            window.talk_released.emit()
            await until(lambda: button.state is TalkState.IDLE, what="released")
            await server.stop()
            await until(lambda: ui.client.model.connection is ConnectionState.RECONNECTING,
                        what="reconnecting")
            await until(lambda: any(text.startswith("Connection lost") for text, _ in said),
                        what="lost said")
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=20)


def test_a_call_and_an_emergency_are_announced_at_once(qtbot) -> None:
    """An incoming call and an emergency are urgent (they interrupt what is being read);
    an emergency already on show is not said again when it is shown again."""
    window = MainWindow()
    qtbot.addWidget(window)
    said = announcements(window)
    try:
        window.notify_incoming_call("chat_bob:sung", "Bob")
        assert said == [("Bob is calling you", True)]  # (its status-bar line: not twice)
        window.emergency.show_emergency(OPS, "Bob", can_cancel=False)
        window.emergency.show_emergency(OPS, "Bob", can_cancel=False, silenced=True)
        assert said[1:] == [("EMERGENCY raised by Bob", True)]
        window.show_message("Alice is speaking in Night shift")
        assert said[-1] == ("Alice is speaking in Night shift", False)
    finally:
        window.talk_key.detach()


# --- a dark desktop theme ---------------------------------------------------------------------
DARK = {QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e0e0e0",
        QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.AlternateBase: "#2b2b2b",
        QPalette.ColorRole.Text: "#e0e0e0", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e0e0e0", QPalette.ColorRole.Highlight: "#2a82da",
        QPalette.ColorRole.HighlightedText: "#ffffff"}


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[None]:
    """The application's palette is a dark theme's for the test."""
    before = qapp.palette()
    palette = QPalette(before)
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    qapp.setPalette(palette)
    yield
    qapp.setPalette(before)


def text_contrast(image: QImage) -> float:
    """The contrast of the text in ``image`` on its background (its commonest colour):
    that of its most contrasting pixel (a stroke's core, not its antialiased edge)."""
    colours = Counter(image.pixel(x, y) for x in range(image.width())
                      for y in range(image.height()))
    background = QColor.fromRgb(colours.most_common(1)[0][0])
    return max(contrast_ratio(QColor.fromRgb(pixel), background) for pixel in colours)


def test_on_a_dark_theme_the_call_banner_rows_and_speaking_line_are_readable(
        qtbot, dark) -> None:
    """The call banner drew the theme's light text on its own cream background (about
    1.2:1, unreadable); the red of a speaker and the blue-grey of secondary lines were
    below 3:1 on a dark background, the red one 1.5:1 under the amber of a row where
    someone speaks."""
    window = MainWindow()
    qtbot.addWidget(window)
    rows = [InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "alice", True, True),
            InterphoneRow("group_59", RowKind.GROUP, "Maintenance", 2, "bob", True,
                          active=True),
            InterphoneRow("group_60", RowKind.GROUP, "Yard", 2, "", True)]
    window.set_me("sung")
    window.set_rows(rows)
    window.show_interphone(rows[0])
    window.panel.set_members(["alice", "sung"])
    window.panel.set_speaker("alice", time.monotonic())
    window.notify_incoming_call("chat_bob:sung", "Bob")
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    try:
        QApplication.processEvents()
        banner = window.banner.text
        assert text_contrast(window.banner.grab(banner.geometry()).toImage()) >= 4.5
        panel = window.panel
        assert text_contrast(panel.grab(panel.speaking.geometry()).toImage()) >= 4.5
        assert text_contrast(panel.grab(panel.subtitle.geometry()).toImage()) >= 4.5
        tree = window.interphones.tree
        for row_id in ("group_59", "group_60"):  # someone speaks there; nobody does
            item = window.interphones._items[row_id]
            rect = tree.visualItemRect(item)
            sub_line = QRect(rect.left() + 34, rect.center().y() + 2, 120, rect.height() // 2 - 4)
            assert text_contrast(tree.viewport().grab(sub_line).toImage()) >= 4.5, row_id
    finally:
        window.talk_key.detach()



def _speaking_member(qtbot) -> tuple[MainWindow, QColor, QColor, QColor]:
    """The panel's member list with Alice speaking: its base, her row's fill and text."""
    window = MainWindow()
    qtbot.addWidget(window)
    row = InterphoneRow(OPS, RowKind.GROUP, "Ops", 2, "alice", True, True)
    window.set_me("sung")
    window.set_rows([row])
    window.show_interphone(row)
    window.panel.set_members(["alice", "sung"])
    window.panel.set_speaker("alice", time.monotonic())
    members = window.panel.members
    item = next(members.item(i) for i in range(members.count())
                if "speaking" in members.item(i).text())
    base = members.palette().color(QPalette.ColorRole.Base)
    return window, base, item.background().color(), item.foreground().color()


def test_on_a_dark_theme_the_speaking_members_row_is_a_dark_tint(qtbot, dark) -> None:
    """The row of the member speaking kept its light pink fill on a dark theme: a bright
    band across the dark list. Its fill is the list's dark base tinted red, its text
    readable on it."""
    window, base, fill, text = _speaking_member(qtbot)
    try:
        assert luminance(fill) < 0.18 and contrast_ratio(fill, base) < 1.6, fill.name()
        assert fill.red() > fill.green() and fill.red() > base.red(), fill.name()
        assert contrast_ratio(text, fill) >= 4.5, (text.name(), fill.name())
    finally:
        window.talk_key.detach()


def icon_contrast(image: QImage, background: QColor) -> float:
    """The contrast on ``background`` of an icon's opaque pixels (not its soft edges): the
    least of them."""
    opaque = {image.pixel(x, y) for x in range(image.width()) for y in range(image.height())
              if image.pixelColor(x, y).alpha() == 255}
    assert opaque
    return min(contrast_ratio(QColor.fromRgb(pixel), background) for pixel in opaque)


def test_on_a_dark_theme_the_audio_bars_icons_stand_out(qtbot, dark) -> None:
    """The microphone and speaker icons of the audio bar (the mute button's face, its only
    sign) are grey-blue, about 2.2:1 on a dark window, the muted speaker's red 2.8:1:
    below the 3:1 an icon needs. On a dark theme they are drawn lighter."""
    bar = AudioBar()
    qtbot.addWidget(bar)
    background = bar.palette().color(QPalette.ColorRole.Window)
    assert luminance(background) < 0.18
    for label in (bar.input_label, bar.output_label):
        assert icon_contrast(label.pixmap().toImage(), background) >= 3.0
    for muted in (False, True):
        bar.set_muted(muted)
        face = bar.mute.icon().pixmap(18, 18).toImage()
        assert icon_contrast(face, background) >= 3.0, muted


def test_on_a_light_theme_the_audio_bars_icons_are_as_drawn(qtbot) -> None:
    bar = AudioBar()
    qtbot.addWidget(bar)
    assert bar.input_label.pixmap().toImage() == icon("mic").pixmap(18, 18).toImage()
    assert bar.output_label.pixmap().toImage() == icon("speaker").pixmap(18, 18).toImage()


def test_on_a_dark_theme_the_selected_rows_icon_stands_out(qtbot, dark) -> None:
    """The group icon's two blues were 1.1:1 and 2.3:1 on a dark theme's highlight: on the
    selected row half of it was gone. It is drawn in the highlight's text colour there."""
    window = MainWindow()
    qtbot.addWidget(window)
    rows = [InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)]
    window.set_rows(rows)
    window.show_interphone(rows[0])
    window.show()
    qtbot.waitExposed(window)
    try:
        tree = window.interphones.tree
        tree.clearFocus()
        rect = tree.visualItemRect(window.interphones._items[OPS])
        tree.viewport().repaint()
        image = tree.viewport().grab(rect).toImage().copy(QRect(4, 10, 24, 24))
        highlight = tree.palette().color(QPalette.ColorRole.Highlight)
        strongest = max(contrast_ratio(image.pixelColor(x, y), highlight)
                        for x in range(image.width()) for y in range(image.height()))
        assert strongest >= 3.0  # (its core; before, the darker blue's 2.3:1 at best)
    finally:
        window.talk_key.detach()


def _selected_row_icon(qtbot, font_points: int | None = None) -> tuple[MainWindow, QImage,
                                                                      QRect]:
    """The window with Ops selected (the list without the focus): the list's viewport
    grabbed and the row's rectangle in it (at a font of ``font_points`` when given)."""
    window = MainWindow()
    qtbot.addWidget(window)
    if font_points is not None:
        font = QFont(window.font())
        font.setPointSize(font_points)
        window.interphones.tree.setFont(font)
    rows = [InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)]
    window.set_rows(rows)
    window.show_interphone(rows[0])
    window.show()
    qtbot.waitExposed(window)
    tree = window.interphones.tree
    tree.clearFocus()
    rect = tree.visualItemRect(window.interphones._items[OPS])
    tree.viewport().repaint()
    return window, tree.viewport().grab().toImage(), rect


def test_on_a_light_theme_the_selected_rows_icon_stands_out(qtbot) -> None:
    """On the default light highlight (#308cc6) the group icon's blues were 1.3:1 to
    1.9:1: where an icon's colours are under 3:1 on the highlight, it is drawn in the
    highlight's text colour, whatever the theme."""
    window, image, rect = _selected_row_icon(qtbot)
    try:
        highlight = window.interphones.tree.palette().color(QPalette.ColorRole.Highlight)
        assert not is_dark(highlight)  # (a light theme's highlight, not the dark fixture's)
        kind = image.copy(QRect(rect.left() + 4, rect.top() + 10, 24, 24))
        strongest = max(contrast_ratio(kind.pixelColor(x, y), highlight)
                        for x in range(kind.width()) for y in range(kind.height()))
        assert strongest >= 3.0
    finally:
        window.talk_key.detach()


def test_the_rows_kind_icon_grows_with_a_large_font(qtbot) -> None:
    """At a 20 pt font the kind icon stayed 24 px beside 27 px lines of text: it is as
    large as the font's line (never smaller than 24 px)."""
    window, image, rect = _selected_row_icon(qtbot, 20)
    try:
        tree = window.interphones.tree
        line = tree.fontMetrics().height()
        assert line > 24
        highlight = tree.palette().color(QPalette.ColorRole.Highlight).rgb()
        # the icon's columns (right of the talk target's bar, left of the name's text)
        inked = [y for x in range(rect.left() + 4, rect.left() + 30)
                 for y in range(rect.top() + 1, rect.bottom())
                 if image.pixelColor(x, y).rgb() != highlight]
        assert inked
        height = max(inked) - min(inked) + 1

        def ink_height(size: int) -> int:  # the group icon's drawn rows at ``size`` px
            drawn = icon("group").pixmap(size, size).toImage()
            rows = [y for y in range(drawn.height()) for x in range(drawn.width())
                    if drawn.pixelColor(x, y).alpha() > 0]
            return max(rows) - min(rows) + 1

        assert height > ink_height(24) and height >= ink_height(line) - 1, (height, line)
    finally:
        window.talk_key.detach()


def test_on_a_light_theme_the_speaking_members_row_is_as_before(qtbot) -> None:
    window, base, fill, text = _speaking_member(qtbot)
    try:
        assert luminance(base) > 0.5
        assert (fill.name(), text.name()) == ("#ffebee", "#b71c1c")
        assert contrast_ratio(text, fill) >= 4.5
    finally:
        window.talk_key.detach()


def test_the_speaking_members_row_follows_a_palette_change(qtbot, qapp) -> None:
    """A desktop switching to its dark theme while the window is open."""
    window, _, fill, _ = _speaking_member(qtbot)
    before = qapp.palette()
    try:
        assert fill.name() == "#ffebee"
        palette = QPalette(before)
        for role, colour in DARK.items():
            palette.setColor(role, QColor(colour))
        qapp.setPalette(palette)
        QApplication.processEvents()
        members = window.panel.members
        item = next(members.item(i) for i in range(members.count())
                    if "speaking" in members.item(i).text())
        assert luminance(item.background().color()) < 0.18
        assert contrast_ratio(item.foreground().color(), item.background().color()) >= 4.5
    finally:
        qapp.setPalette(before)
        window.talk_key.detach()


@pytest.mark.parametrize(("state", "holder", "detail"), [
    (TalkState.IDLE, "", ""), (TalkState.REQUESTING, "", ""), (TalkState.TALKING, "", ""),
    (TalkState.QUEUED, "", "2"), (TalkState.BUSY, "Alice", ""),
    (TalkState.DENIED, "", "Busy"), (TalkState.NOT_JOINED, "", ""),
    (TalkState.OFFLINE, "", "")])
def test_the_talk_buttons_text_reads_on_its_disc_in_every_state(
        qtbot, state: TalkState, holder: str, detail: str) -> None:
    """White text on the amber of "Requesting…" was 1.9:1, on the grey of "Offline"
    2.7:1, on the orange of "Busy" 3.1:1."""
    button = TalkButton()
    qtbot.addWidget(button)
    button.resize(300, 300)
    button.set_state(state, holder, detail)
    button.show()
    qtbot.waitExposed(button)
    disc = button.detail_rect()
    size = disc.width() / 0.76
    title = QRect(int(disc.left() - size * 0.02), int(disc.top() - size * 0.32),
                  int(size * 0.8), int(size * 0.3))
    image = button.grab().toImage()
    assert text_contrast(image.copy(title)) >= 4.5
    if button.texts()[1]:
        assert text_contrast(image.copy(disc.toRect())) >= 4.5

def test_on_a_dark_theme_the_status_bar_note_of_the_global_key_is_readable(
        qtbot, dark) -> None:
    """The status bar's cut-to-fit note (the global talk key's) kept its blue-grey on a
    dark window: 3.2:1."""
    window = MainWindow()
    qtbot.addWidget(window)
    note = ElidedNote(window, colour="#607d8b")
    window.add_status_note(note)
    note.setText("Global talk key: Right Ctrl (for this run, from --global-talk-key)")
    window.resize(1000, 600)
    window.show()
    qtbot.waitExposed(window)
    try:
        palette = note.palette()
        assert contrast_ratio(palette.color(QPalette.ColorRole.WindowText),
                              palette.color(QPalette.ColorRole.Window)) >= 4.5
    finally:
        window.talk_key.detach()

# --- long names, large fonts --------------------------------------------------------------------


def inked_columns(image: QImage, xs: list[int], top: int, bottom: int,
                  ink: Callable[[QColor], bool]) -> list[int]:
    """Which of the columns ``xs`` have an ``ink`` pixel between ``top`` and ``bottom``."""
    return [x for x in xs if any(ink(image.pixelColor(x, y)) for y in range(top, bottom))]


def test_the_talk_button_cuts_a_long_name_with_an_ellipsis(qtbot) -> None:
    """ "Alice Wolfeschlegelsteinhausenbergerdorff is speaking" showed "chlegelsteinhausenberg",
    the word cut mid-letter at both sides of the disc's text box."""
    button = TalkButton()
    qtbot.addWidget(button)
    button.resize(300, 300)
    button.set_state(TalkState.BUSY, LONG_NAME)
    button.show()
    qtbot.waitExposed(button)
    box = button.detail_rect()
    image = button.grab().toImage()
    edges = [int(box.left()), int(box.left()) + 1, int(box.right()) - 2, int(box.right()) - 1]
    white = inked_columns(image, edges, int(box.top()), int(box.bottom()),
                          lambda colour: min(colour.red(), colour.green(), colour.blue()) > 200)
    assert white == []  # no letter reaches the box's sides
    font = QFont(button.font())
    font.setPixelSize(max(10, int((min(300, 300, 340) - 8) * 0.065)))
    lines = fit_lines(f"{LONG_NAME} is speaking", QFontMetricsF(font), box.width(), 3)
    assert lines[0] == "Alice" and lines[1].startswith("Wolfe") and lines[1].endswith("…")
    assert lines[2] == "is speaking"


def test_the_talk_buttons_text_is_never_smaller_than_the_desktops(qtbot) -> None:
    """A large-font desktop (24 px text) in a small window: the disc's second line was
    12 px, half the size of every label around it."""
    button = TalkButton()
    qtbot.addWidget(button)
    font = QFont(button.font())
    font.setPixelSize(24)
    button.setFont(font)
    button.resize(200, 200)
    button.set_state(TalkState.BUSY, "Alice")
    button.show()
    qtbot.waitExposed(button)
    assert button.detail_font().pixelSize() >= 24
    assert button.title_font().pixelSize() >= 24
    box = button.detail_rect().toRect()
    image = button.grab().toImage().copy(box)
    disc = QColor.fromRgb(Counter(image.pixel(x, y) for x in range(image.width())
                                  for y in range(image.height())).most_common(1)[0][0])
    inked = [y for y in range(image.height())
             if any(contrast_ratio(image.pixelColor(x, y), disc) > 3
                    for x in range(image.width()))]
    assert inked and inked[-1] - inked[0] >= 20  # one 24 px line at least (it was 12 px)

def test_a_small_disc_shows_hold_to_talk_whole_in_a_smaller_font(qtbot) -> None:
    """At 200 % on a 1366×768 laptop the window's disc is about 115 pixels wide: its title,
    at 1.3 times the desktop's text, had room for one line and read "Hold to …". It takes a
    smaller font, never below the desktop's text, before it cuts a word."""
    button = TalkButton()
    qtbot.addWidget(button)
    button.resize(160, 123)
    button.set_state(TalkState.IDLE)
    button.show()
    qtbot.waitExposed(button)
    title = button.texts(time.monotonic())[0]
    assert title == "Hold to talk"
    metrics, box = QFontMetricsF(button.title_font()), button.title_rect()
    cut = fit_lines(title, metrics, box.width(), max(1, int(box.height() // metrics.lineSpacing())))
    assert cut == ["Hold to …"]  # what it drew before
    font, lines = button.title_lines(title)
    assert " ".join(lines) == title
    assert font.pixelSize() >= QFontInfo(button.font()).pixelSize()
    assert button.title_lines("Busy")[0].pixelSize() == button.title_font().pixelSize()


def test_a_long_name_in_the_list_is_cut_before_the_badge_and_the_title_gives_way(
        qtbot) -> None:
    """The list measured a joined row's bold name with the plain font: it ran to the
    badge, cut mid-letter without "…"; the panel's title asked for its whole width, so a
    long name (or a large font) pushed the window wider than the screen, cut anywhere."""
    window = MainWindow()
    qtbot.addWidget(window)
    short = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)
    window.set_rows([short])
    window.show_interphone(short)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    try:
        QApplication.processEvents()
        narrow = window.panel.minimumSizeHint().width()
        row = InterphoneRow(OPS, RowKind.GROUP, "Ops " + "Maintenance " * 8, 3, "", True, True)
        window.set_rows([row])
        window.show_interphone(row)
        QApplication.processEvents()
        assert window.panel.minimumSizeHint().width() <= narrow + 10
        tree = window.interphones.tree
        rect = tree.visualItemRect(window.interphones._items[OPS])
        image = tree.viewport().grab().toImage()
        badge_left = next(x for x in range(rect.left(), rect.right())  # its green
                          if image.pixelColor(x, rect.center().y()).name() == "#2e7d32")
        background = image.pixelColor(rect.left() + 200, rect.top() + 2)
        near_badge = list(range(badge_left - 6, badge_left - 1))
        inked = inked_columns(image, near_badge, rect.top() + 4, rect.center().y() - 1,
                              lambda colour: contrast_ratio(colour, background) > 2.5)
        assert inked == []  # the name ends (in "…") short of the badge
    finally:
        window.talk_key.detach()


def test_tab_reaches_the_replay_rows_after_the_members_and_before_the_audio_bar(
        qloop, ui, qtbot) -> None:
    """The replay rows' play buttons, made as transmissions came, were last in the Tab
    order: after the audio bar under the panel, just before Tab wrapped to the top."""
    async def scenario() -> None:
        await ui.other("alice")
        for count in (1, 2):
            await alice_talks(ui)
            await until(lambda c=count: len(ui.presenter.replay_items(OPS)) == c,
                        what="stored")
        window = ui.window
        window.activateWindow()
        QApplication.processEvents()
        replay, bar = window.panel.replay, window.audio_bar
        cycle = tab_cycle(qtbot, window, window.interphones.filter)
        order = [window.panel.members, replay.play_button(0), replay.play_button(1),
                 bar.volume, bar.mute]
        assert all(widget in cycle for widget in order), cycle
        assert [cycle.index(widget) for widget in order] == \
            sorted(cycle.index(widget) for widget in order)
        assert cycle.index(replay.play_button(0)) == cycle.index(window.panel.members) + 1

    run(qloop, scenario(), timeout=20)


# --- large scaling on a small screen --------------------------------------------------------------
def test_a_window_smaller_than_its_content_scrolls_instead_of_overlapping(qtbot) -> None:
    """At 200 % on a 1366×768 or 1280×720 screen (683×384 or 640×360 logical pixels) the
    window could not get its least size: the replay list was drawn over the member list,
    the talk button ran under the audio bar."""
    window = MainWindow()
    qtbot.addWidget(window)
    row = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)
    window.set_rows([row])
    window.show_interphone(row)
    window.panel.set_members(["alice", "bob", "sung"])
    # what minimum_size() gives a 640×360 screen (this platform's screen is larger)
    window._fit_minimum = lambda: window.setMinimumSize(624, 312)  # type: ignore[method-assign]
    window.show()
    qtbot.waitExposed(window)
    try:
        window.resize(624, 312)
        qtbot.waitUntil(lambda: window.height() == 312)
        QApplication.processEvents()
        panel = window.panel

        def placed(widget: QWidget) -> QRect:
            return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())

        assert not placed(panel.members).intersects(placed(panel.replay.title))
        assert not placed(panel.talk_button).intersects(placed(window.audio_bar))
        assert not placed(panel.subtitle).intersects(placed(panel.speaking))
        # what does not fit is reached by scrolling (Tab scrolls it into view)
        window.interphones.filter.setFocus()
        for _ in range(12):
            qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Tab)
            if QApplication.focusWidget() is window.audio_bar.mute:
                break
        assert QApplication.focusWidget() is window.audio_bar.mute
        QApplication.processEvents()
        assert window.scroller.verticalScrollBar().value() > 0
    finally:
        window.talk_key.detach()


@pytest.mark.parametrize("badges", [{"muted": True}, {"activity": True}, {"ringing": True}])
def test_a_badged_tray_icon_is_sharp_at_200_percent(qapp, badges: dict[str, bool]) -> None:
    """A tray icon with a badge is made of pixmaps: at QT_SCALE_FACTOR=2 a 48 px tray got
    the largest, 64 px, blown up to 96 (blurred), where the plain icon (an SVG) is drawn at
    96. Each size a tray asks for has pixels enough at 100 % and at 200 %."""
    badged = tray_icon("tray-idle", **badges)
    for size in (16, 22, 24, 32, 48, 64):
        for ratio in (1.0, 2.0):
            pixmap = badged.pixmap(QSize(size, size), ratio)
            assert pixmap.width() >= round(size * ratio), (size, ratio, pixmap.size())


def test_a_screen_reader_hears_the_meters_level(qtbot) -> None:
    """A screen reader heard "Microphone level" and no level. While one is active the
    meter's description gives it in steps of 10 % ("Microphone level: 40 %"), changed
    only when the level crosses a step; with none, a level changes nothing of it (no
    work per audio block)."""
    bar = AudioBar()
    qtbot.addWidget(bar)
    bar.show()
    qtbot.waitExposed(bar)
    meter = bar.input_meter
    forty = 10 ** (-36 / 20)  # -36 dB: 40 % of the meter's 60 dB
    assert not QAccessible.isActive()
    meter.set_level(forty)
    assert meter.accessibleDescription() == ""
    QAccessible.setActive(True)
    try:
        meter.reset()
        assert meter.accessibleDescription() == "Microphone level: 0 %"
        meter.set_level(forty)
        assert meter.accessibleDescription() == "Microphone level: 40 %"
        said = QAccessible.queryAccessibleInterface(meter).text(QAccessible.Text.Description)
        assert said == "Microphone level: 40 %"
        meter.set_level(forty * 1.1)  # (a few pixels more, under the next step)
        assert meter.accessibleDescription() == "Microphone level: 40 %"
        meter.set_level(1.0)
        assert meter.accessibleDescription() == "Microphone level: 100 %"
        bar.output_meter.set_level(forty)
        assert bar.output_meter.accessibleDescription() == "Speaker level: 40 %"
    finally:
        QAccessible.setActive(False)


def _focus_rings(qtbot) -> None:
    """The audio bar's volume slider and "Mute the speaker" button, the selected
    interphone's, and a replay row's play button: with the keyboard focus each has a 2 px
    outline in the highlight colour (at 3:1 on the window at least) along its edges;
    without it each looks as it did."""
    window = MainWindow()
    qtbot.addWidget(window)
    row = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)
    window.set_rows([row])
    window.show_interphone(row)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    try:
        mix = window.panel.mix
        mix.set_row(row)  # (joined: its volume and mute show)
        qtbot.waitUntil(mix.volume.isVisible)
        replay = window.panel.replay
        replay.set_items([ReplayItem(1, "Alice", "10:10:38", 1.4, False)])
        qtbot.waitUntil(lambda: replay.play_button(0).isVisible())
        for control in (window.audio_bar.volume, window.audio_bar.mute, mix.volume, mix.mute,
                        replay.play_button(0)):
            window.interphones.filter.setFocus(Qt.FocusReason.TabFocusReason)
            qtbot.waitUntil(lambda c=control: not c.hasFocus())
            QApplication.processEvents()
            plain = control.grab().toImage()
            control.setFocus(Qt.FocusReason.TabFocusReason)
            qtbot.waitUntil(control.hasFocus)
            QApplication.processEvents()
            focused = control.grab().toImage()
            window_colour = control.palette().color(QPalette.ColorRole.Window)
            edges = [(x, y) for x in range(focused.width()) for y in (0, 1, focused.height() - 2,
                                                                      focused.height() - 1)]
            edges += [(x, y) for y in range(focused.height()) for x in (0, 1, focused.width() - 2,
                                                                       focused.width() - 1)]
            ring = {focused.pixelColor(x, y).rgb() for x, y in edges}
            assert len(ring) == 1, (control.accessibleName(), len(ring))
            colour = QColor.fromRgb(ring.pop())
            assert contrast_ratio(colour, window_colour) >= 3.0, colour.name()
            highlight = control.palette().color(QPalette.ColorRole.Highlight)
            assert contrast_ratio(colour, highlight) < 1.5, (colour.name(), highlight.name())
            window.interphones.filter.setFocus(Qt.FocusReason.TabFocusReason)
            qtbot.waitUntil(lambda c=control: not c.hasFocus())
            QApplication.processEvents()
            assert control.grab().toImage() == plain, control.accessibleName()
            assert all(plain.pixelColor(x, y).rgb() != colour.rgb() for x, y in edges[:8])
    finally:
        window.talk_key.detach()


def test_the_volume_sliders_and_mute_buttons_show_the_focus_clearly(qtbot) -> None:
    _focus_rings(qtbot)


def test_on_a_dark_theme_the_volume_sliders_and_mute_buttons_show_the_focus(
        qtbot, dark) -> None:
    _focus_rings(qtbot)


def test_the_meters_level_is_said_in_a_new_language_at_once(qtbot) -> None:
    """After a switch to Chinese a screen reader went on hearing "Microphone level: 40 %"
    until the level next crossed a step (with no sound: until the next talk). The level
    is said again at once, under the meter's new name."""
    from PySide6.QtCore import QCoreApplication

    from app.ui.i18n import LanguageSwitcher

    bar = AudioBar()
    qtbot.addWidget(bar)
    bar.show()
    qtbot.waitExposed(bar)
    meter = bar.input_meter
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    QAccessible.setActive(True)
    try:
        meter.set_level(10 ** (-36 / 20))
        assert meter.accessibleDescription() == "Microphone level: 40 %"
        switcher.apply("zh_CN")
        qtbot.waitUntil(lambda: meter.accessibleDescription()
                        == f"{meter.accessibleName()}：40%", timeout=2000)
        assert meter.accessibleName() != "Microphone level"
    finally:
        QAccessible.setActive(False)
        switcher.apply("en")
