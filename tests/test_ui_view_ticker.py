"""One timer for the window's periodic updates: the view ticker, and the panel, the talk
button and the presenter on it (their wake-ups shared, their updates unchanged)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from test_ui_support import close_session, open_session, run, until

from app.ui.interphone_panel import CLOCK_PERIOD_MS, InterphonePanel
from app.ui.presenter_audio import (
    AUDIO_POLL_S,
    AUDIO_TICK_MS,
    AUDIO_WORK_TICK_MS,
    SPEAKER_TICK_MS,
)
from app.ui.talk_button import TalkButton
from app.ui.view_ticker import BASE_MS, ViewTicker
from app.ui.view_types import InterphoneRow, RowKind, TalkState

pytest_plugins = ["test_ui_support"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_timer_runs_at_the_shortest_period_and_calls_each_at_its_own(qapp) -> None:
    clock = Clock()
    ticker = ViewTicker(clock=clock)
    calls: dict[str, list[float]] = {"fast": [], "slow": []}

    def fast(now: float) -> None:
        calls["fast"].append(now)

    def slow(now: float) -> None:
        calls["slow"].append(now)

    assert not ticker.running
    ticker.subscribe(slow, 500)
    assert ticker.interval_ms == 500
    ticker.subscribe(fast, BASE_MS)
    assert ticker.interval_ms == 100  # one timer: the shortest period
    for _ in range(10):  # one second of ticks
        clock.now += 0.1
        ticker.tick()
    assert len(calls["fast"]) == 10
    assert len(calls["slow"]) == 2  # on the same ticks, every fifth
    assert set(calls["slow"]) <= set(calls["fast"])
    ticker.unsubscribe(fast)
    assert ticker.interval_ms == 500
    ticker.unsubscribe(slow)
    assert not ticker.running and ticker.interval_ms == 0  # nobody: no timer at all


def test_a_coarse_tick_a_little_early_is_on_time_and_a_late_one_does_not_catch_up(qapp) -> None:
    clock = Clock()
    ticker = ViewTicker(clock=clock)
    calls: list[float] = []
    ticker.subscribe(calls.append, 500)
    clock.now += 0.48  # Qt moved the coarse timer 20 ms earlier
    ticker.tick()
    assert len(calls) == 1
    clock.now += 3.0  # a stalled loop: one call, not six
    ticker.tick()
    assert len(calls) == 2
    clock.now += 0.1
    ticker.tick()
    assert len(calls) == 2


def test_periods_are_multiples_of_the_base_and_a_failing_subscriber_is_contained(qapp) -> None:
    clock = Clock()
    ticker = ViewTicker(clock=clock)
    with pytest.raises(ValueError):
        ticker.subscribe(lambda now: None, 250)  # would need its own wake-ups
    calls: list[float] = []

    def broken(now: float) -> None:
        raise RuntimeError("boom")

    ticker.subscribe(broken)
    ticker.subscribe(calls.append)
    clock.now += 0.1
    ticker.tick()
    assert calls == [clock.now]


def test_a_subscriber_unsubscribed_by_another_during_a_tick_is_not_called(qapp) -> None:
    clock = Clock()
    ticker = ViewTicker(clock=clock)
    calls: list[str] = []

    def second(now: float) -> None:
        calls.append("second")

    def first(now: float) -> None:
        calls.append("first")
        ticker.unsubscribe(second)

    ticker.subscribe(first)
    ticker.subscribe(second)
    clock.now += 0.1
    ticker.tick()
    assert calls == ["first"]


class Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _shown_button(qtbot, ticker: ViewTicker) -> tuple[QWidget, TalkButton]:
    panel = QWidget()
    qtbot.addWidget(panel)
    button = TalkButton(panel, ticker=ticker)
    QVBoxLayout(panel).addWidget(button)
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, button


def _settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def test_the_talk_countdown_rides_the_shared_ticker_and_repaints_only_what_moved(qtbot) -> None:
    ticker = ViewTicker()
    _panel, button = _shown_button(qtbot, ticker)
    now = time.monotonic()
    button.set_state(TalkState.TALKING, deadline=now + 60.5, max_talk=60)
    assert ticker.subscribed(button._on_countdown_tick) and ticker.interval_ms == BASE_MS
    counter = Paints()
    button.installEventFilter(counter)
    _settle()
    counter.count = 0
    button._on_countdown_tick(time.monotonic())  # nothing moved since the paint
    _settle()
    assert counter.count == 0
    # the ring's end moved more than RING_STEP_PX (0.3 s of a 60 s limit: ~3 px at r≈100)
    button._on_countdown_tick(time.monotonic() + 0.3)
    _settle()
    assert counter.count == 1
    # a 24-hour limit, half a second in: the ring does not move in a second, the seconds do
    button.set_state(TalkState.TALKING, deadline=time.monotonic() + 86399.5, max_talk=86400)
    _settle()
    counter.count = 0
    button._on_countdown_tick(time.monotonic() + 0.2)
    _settle()
    assert counter.count == 0
    button._on_countdown_tick(time.monotonic() + 1.0)
    _settle()
    assert counter.count == 1
    button.set_state(TalkState.IDLE)
    assert not ticker.subscribed(button._on_countdown_tick) and not ticker.running


def test_the_talk_countdown_looks_again_only_when_its_paint_foresaw_a_change(qtbot) -> None:
    """While talking the ticker calls the countdown 10 times a second; with a long limit
    only its seconds change: the ticks in between compute nothing."""
    ticker = ViewTicker()
    _panel, button = _shown_button(qtbot, ticker)
    button.set_state(TalkState.TALKING, deadline=time.monotonic() + 86399.5, max_talk=86400)
    _settle()
    looked: list[float | None] = []
    real_texts = button.texts

    def texts(now: float | None = None) -> tuple[str, str]:
        looked.append(now)
        return real_texts(now)

    button.texts = texts  # type: ignore[method-assign]
    counter = Paints()
    button.installEventFilter(counter)
    for step in (0.0, 0.1, 0.2):
        button._on_countdown_tick(time.monotonic() + step)
    assert looked == []
    button._on_countdown_tick(time.monotonic() + 1.0)  # the seconds went down by one
    _settle()
    assert looked and counter.count == 1
    del button.texts  # the button's own again
    button.set_state(TalkState.IDLE)  # the shared ticker stops (no tick after the test)
    assert not ticker.running


def test_the_speaking_line_counts_on_the_shared_ticker(qtbot) -> None:
    panel = InterphonePanel()
    qtbot.addWidget(panel)
    panel.set_interphone(InterphoneRow("group_58", RowKind.GROUP, "Ops", 2, "", True))
    assert panel.talk_button._ticker is panel.ticker  # the button's countdown shares it
    since = time.monotonic() - 2.2
    panel.set_speaker("alice", since)
    assert panel.ticker.subscribed(panel._on_clock)
    assert panel.ticker.interval_ms == CLOCK_PERIOD_MS
    assert "is speaking · 0:02" in panel.speaking.text()
    panel._on_clock(since + 3.1)  # the tick: the seconds changed, the line follows
    assert "is speaking · 0:03" in panel.speaking.text()
    panel.set_speaker("", None)
    assert not panel.ticker.running


def test_the_presenter_ticks_with_the_stream_and_takes_the_audio_at_its_tick(qloop, server,
                                                                                settings) -> None:
    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            presenter, client, window = ui.presenter, ui.client, ui.window
            ticker = window.panel.ticker
            # what the runtime says when the engine's streams change
            presenter.set_level_polling(False)
            assert presenter.audio_ticking == 0 and not client.audio_polled
            assert not ticker.subscribed(presenter._audio_tick)
            presenter.set_level_polling(True)
            assert presenter.audio_ticking == AUDIO_TICK_MS and client.audio_polled
            assert ticker.interval_ms == AUDIO_TICK_MS
            alice = await ui.other("alice")
            assert await alice.talk_start()
            await until(lambda: client.model.speaker == "alice", what="alice speaks")
            media = client._media
            assert media is not None
            posted: list[str] = []
            real_on_loop = media._on_loop

            def on_loop(callback, *args) -> None:  # what the receive thread hands the loop
                posted.append(callback.__name__)
                real_on_loop(callback, *args)

            media._on_loop = on_loop
            ticks, sent = ticker.ticks, 10
            for _ in range(sent):
                assert alice.send_audio(b"\xf8\xff\xfe")
            await until(lambda: presenter.received["alice"] == sent, what="heard at the tick")
            assert ticker.ticks > ticks
            assert posted == []  # the audio woke nothing of its own on the loop
            # the stream stops while alice still holds the floor: the reception line is
            # kept live once a second, the audio goes back to the loop's batches
            presenter.set_level_polling(False)
            assert presenter.audio_ticking == SPEAKER_TICK_MS and not client.audio_polled
            assert window.audio_bar.output_meter.fraction == 0.0
            for _ in range(5):
                assert alice.send_audio(b"\xf8\xff\xfe")
            await until(lambda: presenter.received["alice"] == sent + 5,
                        what="delivered without a tick")
            assert "_flush_later" in posted  # by the loop's batches again
            await alice.talk_stop()
            await until(lambda: presenter.audio_ticking == 0, what="nobody left to tick for")
            assert not window.panel.reception.isVisible()
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=20)


def test_the_received_audio_is_taken_every_other_work_tick(qloop, server, settings) -> None:
    """The meters move at every view tick; the received audio's bookkeeping waits for the
    work tick after ``AUDIO_POLL_S`` (the engine plays it meanwhile, from the receive
    thread); the quality reports look at each work tick."""
    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            presenter, client = ui.presenter, ui.client
            presenter.set_level_polling(True)
            assert client.audio_polled
            polls: list[float] = []
            looks: list[float] = []
            real_poll, real_look = client.poll_audio, presenter._reporter.tick
            client.poll_audio = lambda: (polls.append(now), real_poll())  # type: ignore
            presenter._reporter.tick = lambda at: (looks.append(at), real_look(at))[1]
            start = time.monotonic() + 1.0
            for k in range(10):
                presenter._audio_tick(start + k * AUDIO_TICK_MS / 1000)
            assert polls == [] and looks == []  # not the view's work
            ticks = [start + k * AUDIO_WORK_TICK_MS / 1000 for k in range(5)]
            for now in ticks:
                presenter._audio_work_tick(now)
            assert AUDIO_POLL_S == 0.5
            assert polls == [ticks[0], ticks[2], ticks[4]]
            assert looks == ticks
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=20)


def test_view_updates_wait_off_screen_and_run_when_shown_again(qapp) -> None:
    clock = Clock()
    ticker = ViewTicker(clock=clock)
    calls: dict[str, list[float]] = {"view": [], "work": []}

    def view(now: float) -> None:
        calls["view"].append(now)

    def work(now: float) -> None:
        calls["work"].append(now)

    ticker.subscribe(view, BASE_MS)
    ticker.subscribe(work, 300, while_hidden=True)
    assert ticker.shown and ticker.interval_ms == BASE_MS
    ticker.set_shown(False)
    assert ticker.interval_ms == 300  # only the work wakes the thread
    for _ in range(9):
        clock.now += 0.1
        ticker.tick()
    assert calls["view"] == []
    assert len(calls["work"]) == 3
    clock.now += 0.05
    ticker.set_shown(True)  # shown again: the view is brought up to date at once
    assert calls["view"] == [clock.now]
    assert ticker.interval_ms == BASE_MS
    clock.now += 0.1
    ticker.tick()
    assert len(calls["view"]) == 2
    ticker.set_shown(False)
    ticker.unsubscribe(work)
    assert not ticker.running  # a view alone, off screen: no timer at all
    ticker.set_shown(True)
    assert ticker.running and len(calls["view"]) == 3


def test_the_window_off_screen_stops_the_meters_but_not_the_reports(qloop, server,
                                                                   settings) -> None:
    """Hidden to the tray or minimized: no meter or clock work, the quality reports and
    the received audio's bookkeeping go on; shown again, the meters are current at once."""
    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            presenter, window, audio = ui.presenter, ui.window, ui.audio
            ticker = window.panel.ticker
            presenter.set_level_polling(True)
            assert ticker.shown and ticker.interval_ms == AUDIO_TICK_MS
            window.hide()
            assert not ticker.shown
            assert ticker.interval_ms == AUDIO_WORK_TICK_MS
            levels: list[tuple[float, float]] = []
            real_set = window.audio_bar.set_levels
            window.audio_bar.set_levels = lambda i, o: (levels.append((i, o)), real_set(i, o))
            looks: list[float] = []
            real_look = presenter._reporter.tick
            presenter._reporter.tick = lambda at: (looks.append(at), real_look(at))[1]
            audio.engine._input_level = type(audio.engine.input_level)(0.5, 0.5)
            await until(lambda: len(looks) >= 2, what="quality reports while hidden")
            assert levels == []
            window.show()
            assert ticker.shown and levels  # brought up to date on showing
            assert window.audio_bar.input_meter.fraction > 0.5
            window.showMinimized()
            await until(lambda: not ticker.shown, what="minimized: off screen")
            assert ticker.interval_ms == AUDIO_WORK_TICK_MS
            window.showNormal()
            await until(lambda: ticker.shown, what="restored: on screen")
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=20)


def test_a_window_started_in_the_tray_ticks_no_view(qapp) -> None:
    from app.ui.main_window import MainWindow

    window = MainWindow()
    try:
        ticker = window.panel.ticker
        assert not ticker.shown  # never shown (--background): the clocks wait
        window.panel.set_speaker("alice", time.monotonic())
        assert not ticker.running
        window.show()
        assert ticker.shown and ticker.interval_ms == CLOCK_PERIOD_MS
    finally:
        window.close()
        window.deleteLater()


def test_the_meters_move_at_the_tick(qloop, server, settings) -> None:
    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            presenter, audio, window = ui.presenter, ui.audio, ui.window
            presenter.set_level_polling(True)
            audio.engine._input_level = type(audio.engine.input_level)(0.5, 0.5)
            presenter._audio_tick(time.monotonic())
            assert window.audio_bar.input_meter.fraction > 0.5
            presenter.set_level_polling(False)  # the streams stopped: no tick decays it
            assert window.audio_bar.input_meter.peak == 0.0  # no peak marker left frozen
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=20)


def test_the_button_face_is_drawn_once_per_look_and_never_shown_stale(qtbot) -> None:
    """The countdown repaints copy the disc and its texts from a pixmap; any change of what
    they show (state, texts, colour, press) draws them anew."""
    _panel, button = _shown_button(qtbot, ViewTicker())
    button.set_state(TalkState.IDLE)
    idle = button.grab().toImage()
    button.set_state(TalkState.BUSY, holder="Alice")
    busy = button.grab().toImage()
    assert busy != idle
    button.set_state(TalkState.IDLE)
    assert button.grab().toImage() == idle  # the same look again, not the busy face
    button.set_state(TalkState.TALKING, deadline=time.monotonic() + 600.5, max_talk=600)
    button.grab()
    assert button._face_cache is not None
    face = button._face_cache[1]
    button.repaint()  # the ring moved a little, the face did not change
    assert button._face_cache[1] is face
    button.show_refused()  # the warning ring is part of the face
    button.grab()
    assert button._face_cache[1] is not face
