"""The views on their own: what they show for what they are given, and the intents they emit."""

from __future__ import annotations

import argparse
import time

import pytest
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.ui.floor_widgets import ReplayItem, ReplayList
from app.ui.interphone_list import InterphoneList
from app.ui.interphone_mix import InterphoneMixControls
from app.ui.interphone_row_paint import ROW_ROLE, SUBTITLE_ROLE
from app.ui.level_meter import level_to_fraction
from app.ui.main import build_parser, choose_platform, parse_size
from app.ui.main_window import MainWindow
from app.ui.settings import Settings
from app.ui.settings_dialog import SettingsDialog
from app.ui.talk_button import TalkButton, format_length, format_seconds, turn_seconds
from app.ui.talk_key import TalkKey, key_from_text
from app.ui.view_types import DeviceChoice, InterphoneRow, Preferences, RowKind, TalkState

ROWS = [
    InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "lixx", True),
    InterphoneRow("group_59", RowKind.GROUP, "Maintenance"),
    InterphoneRow("discuss_12", RowKind.DISCUSS, "Night shift", 2),
    InterphoneRow("chat_lxx:sung", RowKind.CHAT, "Li Xiaoxia"),
]


@pytest.fixture
def store(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


# --- settings ------------------------------------------------------------------------------
def test_settings_have_typed_defaults(store) -> None:
    settings = Settings(store)
    assert settings.release_delay_ms == 150
    assert settings.talk_key == "Space"
    assert settings.tones is True
    assert settings.language == "system"
    assert settings.frame_ms == 20 and settings.bitrate == 24000
    assert set(Settings.declared()) >= {"server_address", "uid", "remember", "volume"}
    assert "token" not in Settings.declared()  # kept in the keyring, not in the settings file


def test_settings_round_trip_through_the_file(store, tmp_path) -> None:
    settings = Settings(store)
    settings.release_delay_ms = 300
    settings.tones = False
    settings.language = "zh_CN"
    settings.sync()
    again = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert (again.release_delay_ms, again.tones, again.language) == (300, False, "zh_CN")
    assert isinstance(again.release_delay_ms, int) and isinstance(again.tones, bool)


@pytest.mark.parametrize(("key", "raw", "attribute", "expected"), [
    ("talk/release_delay_ms", "soon", "release_delay_ms", 150),
    ("audio/frame_ms", "25", "frame_ms", 20),  # not an allowed frame duration
    ("audio/bitrate", "16000", "bitrate", 16000),
    ("ui/language", "klingon", "language", "system"),
    ("audio/tones", "false", "tones", False),
    ("audio/tones", "1", "tones", True),
])
def test_bad_or_textual_stored_values(store, key: str, raw: str, attribute: str,
                                      expected: object) -> None:
    store.setValue(key, raw)
    assert getattr(Settings(store), attribute) == expected


# --- small pure helpers ----------------------------------------------------------------------
@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", "offscreen"),
    ({"DISPLAY": ":0"}, "linux", None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", None),
    ({}, "darwin", None),
    ({}, "win32", None),
])
def test_offscreen_only_without_a_display(environ, platform, expected) -> None:
    assert choose_platform(environ, platform) == expected


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (7.9, "0:07"), (61, "1:01"),
                                               (-3, "0:00")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(1.8, "0:02"), (1.4, "0:01"), (1.5, "0:02"),
                                               (0.3, "0:01"), (0.02, "0:01"), (0, "0:00"),
                                               (59.6, "1:00"), (-1, "0:00")])
def test_replay_lengths_round_to_the_nearest_second_never_0_00_for_audio(
        seconds: float, text: str) -> None:
    """A 1.8 s replay showed 0:01 and a short one 0:00."""
    assert format_length(seconds) == text


def test_the_replay_list_shows_rounded_lengths(qtbot) -> None:
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.set_items([ReplayItem(2, "Alice", "07:00:15", 1.8, False),
                      ReplayItem(1, "Bob", "07:00:10", 0.3, True)])
    assert replay.item_texts() == ["● Alice  07:00:15  (0:02)", "Bob  07:00:10  (0:01)"]


def _replay_row_texts(replay: ReplayList) -> list[tuple[str, bool, str]]:
    """What each row widget shows: its labels' texts, whether Play is enabled, its tooltip."""
    rows = []
    for index in range(replay.list.count()):
        widget = replay.list.itemWidget(replay.list.item(index))
        labels = " ".join(label.text() for label in widget.findChildren(QLabel))
        rows.append((labels, replay.play_button(index).isEnabled(), widget.toolTip()))
    return rows


def test_the_replay_list_updates_its_rows_in_place(qtbot) -> None:
    """A busy interphone keeps over a hundred transmissions and the list changes several
    times per transmission; rebuilding every row each time stalled the GUI thread (about
    90 ms at 67 rows). Rows of transmissions still listed are kept and updated; new ones
    are added at the top, gone ones removed; what each row shows is the item's."""
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.resize(400, 150)
    older = [ReplayItem(n, f"Speaker {n}", f"07:00:{n:02d}", 2.0, n % 2 == 0)
             for n in range(30, 0, -1)]
    replay.set_items(older)
    kept = {n: replay.list.itemWidget(replay.list.item(i))
            for i, n in enumerate(item.number for item in older)}
    receiving = ReplayItem(31, "Alice", "07:00:31", 0.4, False, True)
    replay.set_items([receiving, *older[:-1]])  # a new one; the oldest aged out
    assert replay.list.count() == 30
    for index, item in enumerate(older[:-1], start=1):
        assert replay.list.itemWidget(replay.list.item(index)) is kept[item.number]
    assert replay.list.itemWidget(replay.list.item(0)) not in kept.values()
    assert not replay.play_button(0).isEnabled()  # still receiving
    finished = ReplayItem(31, "Alice", "07:00:31", 2.6, True, False)  # ended, then heard
    replay.set_items([finished, *older[:-1]])
    assert replay.list.itemWidget(replay.list.item(1)) is kept[30]
    assert replay.play_button(0).isEnabled()
    rows = _replay_row_texts(replay)
    assert rows[0] == ("Alice 07:00:31 (0:03)", True, replay.item_texts()[0])
    assert [row[2] for row in rows] == replay.item_texts()
    marks = ["●" in labels for labels, _, _ in rows]
    assert marks == [not item.heard for item in [finished, *older[:-1]]]
    assert "unheard" in replay.title.text()
    replay.set_items([])
    assert replay.list.count() == 0 and replay.title.text() == replay.tr("Replay")


@pytest.mark.parametrize(("elapsed", "limit", "split"), [
    (3.05, 60, (3, 57)), (0.0, 60, (0, 60)), (59.99, 60, (59, 1)), (60.0, 60, (60, 0)),
    (75.0, 60, (60, 0)), (-0.2, 60, (0, 60)), (17.5, 60, (17, 43))])
def test_time_talked_and_left_add_up_to_the_limit(elapsed: float, limit: float,
                                                  split: tuple[int, int]) -> None:
    assert turn_seconds(elapsed, limit) == split


@pytest.mark.parametrize(("level", "fraction"), [(0.0, 0.0), (1.0, 1.0), (0.001, 0.0),
                                                 (0.1, 2 / 3), (2.0, 1.0)])
def test_meter_scale_is_logarithmic(level: float, fraction: float) -> None:
    assert level_to_fraction(level) == pytest.approx(fraction, abs=1e-6)


def test_parse_size() -> None:
    assert parse_size("800x600") == (800, 600)
    assert parse_size(None) is None
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("0x0")  # no window to see


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_quit_after_refuses_what_is_not_a_time_to_wait(capsys, value: str) -> None:
    """``--quit-after -1`` was taken (Qt warned of a negative interval and quit at once)."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--quit-after", value])
    assert exited.value.code == 2
    assert "--quit-after" in capsys.readouterr().err
    assert build_parser().parse_args(["--quit-after", "0"]).quit_after == 0


@pytest.mark.parametrize(("text", "key"), [("Space", Qt.Key.Key_Space), ("F12", Qt.Key.Key_F12),
                                           ("", Qt.Key.Key_Space)])
def test_talk_key_text(qapp, text: str, key: Qt.Key) -> None:
    assert key_from_text(text) == key


# --- talk button ------------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "holder", "title", "detail"), [
    (TalkState.IDLE, "", "Hold to talk", "or hold Space"),
    (TalkState.REQUESTING, "", "Requesting…", ""),
    (TalkState.BUSY, "lixx", "Busy", "lixx is speaking"),
    (TalkState.DENIED, "", "Denied", "not a member"),
    (TalkState.NOT_JOINED, "", "Join to talk", ""),
    (TalkState.OFFLINE, "", "Offline", ""),
])
def test_talk_button_texts(qtbot, state, holder, title, detail) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    button.set_state(state, holder, "not a member" if state is TalkState.DENIED else "")
    assert button.texts() == (title, detail)


def test_talk_button_counts_down_the_grant(qtbot) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    button.set_state(TalkState.TALKING, "me", deadline=time.monotonic() + 42.5, max_talk=60)
    # rounded up (issue 13: with 17.5 s elapsed shown as 0:17, 0:42 left was a second short)
    assert button.texts() == ("Talking", "0:43 left")


@pytest.mark.parametrize(("state", "emits"), [(TalkState.IDLE, True), (TalkState.BUSY, True),
                                              (TalkState.OFFLINE, False),
                                              (TalkState.NOT_JOINED, False)])
def test_talk_button_press_and_hold(qtbot, state: TalkState, emits: bool) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    button.resize(200, 200)
    button.set_state(state)
    pressed, released = [], []
    button.talk_pressed.connect(lambda: pressed.append(1))
    button.talk_released.connect(lambda: released.append(1))
    qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert button.held is emits
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert (len(pressed), len(released)) == ((1, 1) if emits else (0, 0))
    qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))  # outside the disc
    assert not button.held


def test_talk_button_lets_go_when_talking_becomes_impossible(qtbot) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    button.resize(200, 200)
    button.set_state(TalkState.IDLE)
    released = []
    button.talk_released.connect(lambda: released.append(1))
    qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    button.set_state(TalkState.OFFLINE)
    assert released == [1] and not button.held


# --- talk key -------------------------------------------------------------------------------
def send_key(target: QWidget, kind: QEvent.Type, key: Qt.Key = Qt.Key.Key_Space,
             auto_repeat: bool = False) -> None:
    """A key event where the window system delivers it: the window's platform window."""
    target.create()
    QApplication.sendEvent(target.windowHandle(), QKeyEvent(
        kind, key, Qt.KeyboardModifier.NoModifier, " ", auto_repeat))


def test_talk_key_ignores_auto_repeat_and_other_windows(qtbot) -> None:
    window, other = QWidget(), QWidget()
    qtbot.addWidget(window)
    qtbot.addWidget(other)
    talk_key = TalkKey(window)
    events: list[str] = []
    talk_key.pressed.connect(lambda: events.append("press"))
    talk_key.released.connect(lambda: events.append("release"))
    try:
        send_key(window, QEvent.Type.KeyPress)
        for _ in range(3):
            send_key(window, QEvent.Type.KeyRelease, auto_repeat=True)
            send_key(window, QEvent.Type.KeyPress, auto_repeat=True)
        send_key(window, QEvent.Type.KeyRelease)
        send_key(other, QEvent.Type.KeyPress)  # not our window
        send_key(window, QEvent.Type.KeyPress, Qt.Key.Key_A)  # not the talk key
        assert events == ["press", "release"]
        talk_key.set_key("F12")
        send_key(window, QEvent.Type.KeyPress, Qt.Key.Key_F12)
        QApplication.sendEvent(window.windowHandle(), QFocusEvent(  # another window active
            QEvent.Type.FocusOut, Qt.FocusReason.ActiveWindowFocusReason))
        assert events == ["press", "release", "press", "release"]
    finally:
        talk_key.detach()


def test_main_window_merges_mouse_and_key_holds(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    events: list[str] = []
    window.talk_pressed.connect(lambda: events.append("press"))
    window.talk_released.connect(lambda: events.append("release"))
    window.talk_key.pressed.emit()
    window.panel.talk_button.talk_pressed.emit()
    window.talk_key.released.emit()
    assert events == ["press"]
    window.panel.talk_button.talk_released.emit()
    assert events == ["press", "release"]
    window.talk_key.detach()


# --- interphone list --------------------------------------------------------------------------
def test_list_sections_filter_and_selection(qtbot) -> None:
    view = InterphoneList()
    qtbot.addWidget(view)
    view.set_rows(ROWS)
    assert set(view.visible_ids()) == {row.id for row in ROWS}
    view.select("discuss_12")
    with qtbot.waitSignal(view.selected) as selected:
        view.select("group_59")
    assert selected.args == ["group_59"]
    view.filter.setText("shift")
    assert view.visible_ids() == ["discuss_12"]
    view.filter.setText("XIAO")
    assert view.visible_ids() == ["chat_lxx:sung"]
    view.filter.clear()
    updated = [*ROWS[:1], InterphoneRow("group_59", RowKind.GROUP, "Maintenance", 1, "wux")]
    view.set_rows(updated)  # rows that disappear are removed, the selection is kept
    assert set(view.visible_ids()) == {"group_58", "group_59"}
    assert view.selected_id() == "group_59"
    assert view.row("group_59").speaker == "wux"


def test_list_activation_requests_a_join(qtbot) -> None:
    view = InterphoneList()
    qtbot.addWidget(view)
    view.set_rows(ROWS)
    view.select("group_59")
    with qtbot.waitSignal(view.join_requested) as joined:
        view.tree.itemActivated.emit(view.tree.currentItem(), 0)
    assert joined.args == ["group_59"]


def test_a_thousand_contacts_one_changing_refills_and_resorts_that_row_alone(qtbot) -> None:
    # set_rows runs at each change of the model: a presence or a member count changing
    # among a thousand contacts filled every row in again (about 0.1 s of the GUI thread
    # each, for minutes while an organisation signs in at 9 a.m.)
    window = MainWindow()
    qtbot.addWidget(window)
    view = window.interphones
    rows = [InterphoneRow(f"group_{n}", RowKind.GROUP, f"Team {n}", n % 3) for n in range(60)]
    rows += [InterphoneRow(f"chat_me:u{n:04d}", RowKind.CHAT, f"User {n:04d}", online=False)
             for n in range(1000)]
    window.set_rows(rows)
    filled: list[str] = []
    fill = view._fill
    view._fill = lambda item, row: (filled.append(row.id), fill(item, row))  # type: ignore
    told: list[bool] = []
    window.rows_changed.connect(lambda: told.append(True))
    window.set_rows(list(rows))
    assert filled == [] and told == []  # nothing changed: nothing done, the tray not told
    rows[-1] = InterphoneRow("chat_me:u0999", RowKind.CHAT, "User 0999", online=True)
    rows[-2] = InterphoneRow("chat_me:u0998", RowKind.CHAT, "User 0998", 2)  # now live
    window.set_rows(rows)
    assert sorted(filled) == ["chat_me:u0998", "chat_me:u0999"] and told == [True]
    assert view.row("chat_me:u0999").online is True
    order = view.order()
    assert order.index("chat_me:u0998") == 60  # live: first of the contacts
    view.filter.setText("user 099")
    assert sorted(view.visible_ids()) == [f"chat_me:u{n:04d}" for n in range(990, 1000)]


def test_a_changed_row_is_one_change_for_the_view(qtbot) -> None:
    """A row refilled (a speaker, a count) told the view of each of its roles apart: three
    changes, each measuring the row again and asking for its repaint. One now, the row
    showing every part of it."""
    view = InterphoneList()
    qtbot.addWidget(view)
    view.set_me("me")
    view.set_rows(ROWS)
    told: list[int] = []
    view.tree.model().dataChanged.connect(lambda first, last, roles: told.append(first.row()))
    speaking = InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "wux", joined=True)
    assert view.update_rows([speaking])
    assert len(told) == 1
    item = view._items["group_58"]
    assert item.data(0, ROW_ROLE) == speaking and "wux speaking" in item.data(0, SUBTITLE_ROLE)
    description = item.data(0, Qt.ItemDataRole.AccessibleDescriptionRole)
    assert description.startswith("Group · Listening") and "wux speaking" in description
    assert not view.update_rows([speaking]) and len(told) == 1  # nothing changed


def test_the_members_of_a_big_group_are_listed_again_only_when_they_change(qtbot) -> None:
    # the panel is set again at each change of the window: 500 members were made again
    # each time (about 20 ms of the GUI thread)
    window = MainWindow()
    qtbot.addWidget(window)
    panel = window.panel
    row = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 500, joined=True)
    window.set_rows([row])
    window.show_interphone(row)
    panel.set_members([f"user{n:03d}" for n in range(500)])
    first = panel.members.item(7)
    panel.set_interphone(row)
    window.show_interphone(row)
    assert panel.members.item(7) is first and panel.members.count() == 500
    panel.set_speaker("user007")  # what is shown changed: made again
    assert panel.members.item(7).text() == "user007 · speaking"
    panel.set_names({"user008": "Hana"})
    assert panel.members.item(8).text() == "Hana"


# --- panel and settings dialog ---------------------------------------------------------------
def test_panel_shows_members_speaker_and_join_or_leave(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    panel = window.panel
    window.show_interphone(ROWS[1])
    assert panel.join_button.isVisibleTo(panel) and not panel.leave_button.isVisibleTo(panel)
    window.show_interphone(ROWS[0])
    assert panel.leave_button.isVisibleTo(panel)
    panel.set_members(["sung", "lixx"])
    panel.set_speaker("lixx", time.monotonic() - 5)
    assert panel.member_texts() == ["sung (you)", "lixx · speaking"]
    assert panel.speaking.text() == "lixx is speaking · 0:05"
    with qtbot.waitSignal(panel.leave_requested) as left:
        panel.leave_button.click()
    assert left.args == ["group_58"]
    window.talk_key.detach()


def test_panel_last_spoke_line_never_contradicts_a_first_speaker(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    panel = window.panel
    window.show_interphone(ROWS[0])
    panel.set_speaker("", None)
    assert panel.last_spoke.text() == "Nobody has spoken yet"
    panel.set_speaker("lixx", time.monotonic())
    assert panel.last_spoke.text() == ""
    panel.set_speaker("", None)
    assert panel.last_spoke.text().startswith("Last spoke: lixx at ")
    window.talk_key.detach()


def test_settings_dialog_edits_preferences(qtbot) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.set_devices([DeviceChoice("USB mic", "USB mic")], [DeviceChoice("HDMI", "HDMI")])
    prefs = Preferences(input_device="USB mic", bitrate=32000, frame_ms=40, tones=False,
                        talk_key="F12", release_delay_ms=250, language="zh_CN")
    dialog.set_preferences(prefs)
    assert dialog.preferences() == prefs
    dialog.release_delay.setValue(100)
    with qtbot.waitSignal(dialog.applied) as applied:
        dialog.buttons.button(dialog.buttons.StandardButton.Apply).click()
    assert applied.args[0].release_delay_ms == 100
    with qtbot.waitSignal(dialog.mic_test_toggled) as toggled:
        dialog.mic_test.click()
    assert toggled.args == [True]
    dialog.reject()
    assert not dialog.mic_test.isChecked()  # closing the dialog stops the test


def test_an_interphones_volume_says_its_level(qtbot) -> None:
    """The per-interphone slider (0..150 %) showed no number: at 100 % it sat two thirds
    along, and a level set long ago could not be read back."""
    controls = InterphoneMixControls()
    qtbot.addWidget(controls)
    row = InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "", True, talk_target=True)
    controls.set_row(row, percent=40)
    assert controls.volume.toolTip() == "Volume of this interphone: 40 %"
    controls.volume.setValue(120)
    assert controls.volume.toolTip() == "Volume of this interphone: 120 %"


def test_the_talk_button_s_background_is_the_window_s_on_a_dark_theme(qtbot) -> None:
    """Once the talk button was a button to screen readers, its background took the
    palette's Button colour: on a dark theme, where it differs from the window's, a box
    showed round the disc."""
    from PySide6.QtGui import QColor, QPalette

    panel = QWidget()
    palette = panel.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#202326"))
    palette.setColor(QPalette.ColorRole.Button, QColor("#292c30"))
    panel.setPalette(palette)
    button = TalkButton(panel)
    button.resize(300, 300)
    qtbot.addWidget(panel)
    image = button.grab().toImage()
    assert image.pixelColor(2, 2).name() == "#202326"  # a corner, outside the disc
