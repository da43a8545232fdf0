"""The running application: sign-in (or demo), the main window session, clean shutdown.

Started in the background (at login) with "remember me" and the server out of reach
(the network not up yet), it waits in the tray and retries (:mod:`app.ui.offline_start`)
instead of showing the sign-in dialog; a refused token still shows it.

Everything here runs on the one asyncio loop (qasync's, on the Qt thread).
Shutdown order: presenter (stops its tasks), client (quits, closes sockets),
audio (closes the device), demo bots and server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSize, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from app.audio.backend import AudioDeviceError
from app.client import ClientError, InterphoneClient, ServerUnreachable
from app.client.client_reconnect import backoff_delays
from app.client.errors import failure_of
from app.client.failures import FailureKind
from app.client.tasks import TaskSet
from app.demo import DEMO_INTERPHONE, DEMO_TOKEN, DEMO_UID, DemoTimings, DemoWorld, load_clip
from app.ui import gui_thread_gc
from app.ui.audio_link import EngineAudio, open_audio
from app.ui.autostart import launch_command, set_start_at_login
from app.ui.desktop_notifications import DesktopNotifications
from app.ui.elided_note import ElidedNote
from app.ui.failure_text import device_error_text, device_problem_text, error_text, fill
from app.ui.global_key import GlobalTalkKeyService, command_line_note, from_command_line
from app.ui.i18n import LanguageSwitcher
from app.ui.joined_memory import JoinedMemory
from app.ui.key_field import recording_field
from app.ui.main_window import MainWindow
from app.ui.offline_start import OfflineTray
from app.ui.preferences import PreferencesController
from app.ui.presenter import Heard, Presenter
from app.ui.settings import TOGGLE, Settings
from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import Credentials, SignInFlow, remembered_credentials
from app.ui.tray import TrayController
from app.ui.tray_watch import TrayWatch
from app.ui.window_place import place_window

logger = logging.getLogger(__name__)

RETRY_BACKOFF = (0.2, 5.0)
"""The remembered sign-in's retries at a background start, seconds: the client's own
reconnect back-off (first delay, cap)."""
TRAY_GRACE_S = 5.0
"""At a background start without a tray, how long the retries wait for one (a panel that
comes up a moment after the apps of the login) before the sign-in dialog says why instead:
with no tray (a desktop without one, or none after the login), retries nobody can see
are no use, and the user expects the app they started at login to show up."""
TRAY_POLL_S = 0.25
"""While the retries wait for a tray: how often they look for one."""
TRAY_PRESENT_POLL_S = RETRY_BACKOFF[1]
"""While the retries wait in a tray: how often they look whether it is still there (as
often as they try at most; the retries may go on for hours without a network)."""

SETTLE_DELAY_MS = 1000
"""After the window is up: the rejoins and the first sync are done by then, and the
benchmark's warm-up (bench/idle.py) is longer."""


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options (see :mod:`app.ui.main`)."""

    demo: bool = False
    quit_after: float | None = None
    screenshot: Path | None = None
    size: QSize | None = None
    simulate_audio: bool = False
    demo_timings: DemoTimings | None = None
    global_talk_key: str | None = None  # for this run, instead of the setting
    background: bool = False  # start in the tray, no window (start at login)
    settings_file: Path | None = None  # --settings: the login start is given it too


class Outcome(StrEnum):
    QUIT = "quit"
    SIGN_OUT = "sign_out"
    RECONNECT = "reconnect"  # sign in again with the same credentials


class Runtime:
    """Owns the session's parts; :meth:`run` returns the exit code."""

    def __init__(self, app: QApplication, options: Options, settings: Settings,
                 switcher: LanguageSwitcher) -> None:
        self.app = app
        self.options = options
        self.settings = settings
        self.switcher = switcher
        self.world: DemoWorld | None = None
        self.window: MainWindow | None = None
        self.presenter: Presenter | None = None
        self.client: InterphoneClient | None = None
        self.audio: EngineAudio | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.preferences: PreferencesController | None = None
        self.ready = asyncio.Event()  # the main window is up
        self.credentials: Credentials | None = None
        self._outcome: asyncio.Future[Outcome] | None = None
        self.tasks = TaskSet(lambda exc: logger.error("runtime task failed: %s", exc))
        self.global_key = GlobalTalkKeyService(app)
        self.global_key_label: QLabel | None = None
        self.tray: TrayController | None = None
        # whether a system tray is there: for the retries of a background start and for
        # the window hidden in the tray (one clock, running only while one of them asks)
        self.tray_watch = TrayWatch(app)
        # the desktop's notification daemon says the tray's messages (none offscreen: no
        # desktop there)
        self.notifications = DesktopNotifications(app)
        self.notifications.clicked.connect(self._on_notification_clicked)
        self.auto_signed_in = False  # "remember me" signed in without the dialog
        self._rejoin_next = False  # the next session joins settings.rejoin again
        self._settings_problem_said = False  # "Settings cannot be saved" (once a run)
        self._auto_sign_in_tried = False
        self._connect_failure: ClientError | None = None  # why signing in by itself failed
        self.offline_tray: OfflineTray | None = None  # the background start retries
        self._waiting: asyncio.Future[str] | None = None  # "sign_in" / "quit" while it does
        self._quitting = False  # quit while no session runs: no sign-in dialog either
        self.joined_memory = JoinedMemory(settings)
        # what the sessions of one account heard (replays, who last spoke): a Reconnect's
        # new session goes on with it
        self._heard: tuple[str, Heard] | None = None
        self._key_from_command_line = options.global_talk_key is not None
        self._global_key_recorded = False  # its press went to a settings field, not a talk
        # the next session's window starts in the tray: --background at start; after
        # Reconnect, where the window was (hidden in the tray, or shown)
        self._start_hidden = options.background
        self._window_hidden = False  # the ended session's window was hidden in the tray
        # the key outlives the sessions: it holds the current session's window (a slot per
        # session kept pressing the ended sessions' deleted windows: a RuntimeError at each
        # press after a reconnect, and at the release that closing a held key sends at quit)
        self.global_key.pressed.connect(lambda: self._hold_global_key(True))
        self.global_key.released.connect(lambda: self._hold_global_key(False))
        self.global_key.status_changed.connect(self._show_global_key)

    # --- top level ---------------------------------------------------------------------------
    async def run(self) -> int:
        key = self.options.global_talk_key
        self.tasks.spawn(self.global_key.apply(
            self.settings.global_talk_key if key is None else key), "global talk key")
        if QApplication.platformName() != "offscreen":
            self.tasks.spawn(self.notifications.start(), "notifications")
        try:
            if self.options.demo:
                self.world = await DemoWorld.start(self.options.demo_timings)
                self.credentials = Credentials("127.0.0.1", self.world.port, DEMO_UID, DEMO_TOKEN)
                self.client = self.credentials.client()
                await self.client.connect()
                await self.client.join(DEMO_INTERPHONE)
            if self.options.quit_after is not None:  # signing in or not: --quit-after ends
                QTimer.singleShot(int(self.options.quit_after * 1000), self._timed_quit)
            while True:
                if self.client is None:
                    self.client = await self._sign_in()
                    if self.client is None:
                        return 0
                outcome = await self._session(self.client)
                self.client = None
                # --background is for the start: a window the user opened stays open
                # across Reconnect, and a sign-in made in the dialog shows the window
                self._start_hidden = outcome is Outcome.RECONNECT and self._window_hidden
                if outcome is Outcome.RECONNECT and self.credentials is not None:
                    self._rejoin_next = True  # back where we were
                    self.client = await self._reconnect(self.credentials)
                    continue
                if outcome is Outcome.QUIT or self.options.demo:
                    return 0
                self.settings.forget_credentials()  # signed out: no remembered token
                self._heard = None  # ... nor what the account heard
                self.settings.rejoin = ""  # ... nor interphones to rejoin
        except ClientError as exc:
            logger.error("cannot start: %s", exc)
            return 1
        finally:
            await self._shutdown()
            self.global_key.close()
            await self.notifications.close()
            await self.tasks.close()

    def quit(self) -> None:
        """End the session (window closed, Quit, --quit-after), or the sign-in before it."""
        self._quitting = True
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(Outcome.QUIT)
        self._stop_waiting("quit")
        if self.sign_in_dialog is not None:
            self.sign_in_dialog.reject()

    def _stop_waiting(self, why: str) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(why)

    def sign_out(self) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(Outcome.SIGN_OUT)

    def reconnect(self) -> None:
        """After "signed in elsewhere" (or a lost server): a new session, same account."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(Outcome.RECONNECT)

    # --- phases ------------------------------------------------------------------------------
    async def _sign_in(self) -> InterphoneClient | None:
        if self._quitting:
            return None
        remembered = ""  # the account "remember me" failed to sign in at start
        if not self._auto_sign_in_tried:
            self._auto_sign_in_tried = True
            client = await self._remembered_sign_in()
            if client is not None or self._quitting:
                return client
            if self.settings.remember and self.settings.uid:
                remembered = self.settings.account
        failed, self._connect_failure = self._connect_failure, None
        self.sign_in_dialog = SignInDialog()
        try:
            flow = SignInFlow(self.sign_in_dialog, self.settings)
            client = await flow.run(failed)
            self._start_hidden = False  # signed in at the dialog: the user is at the screen
            self.credentials = flow.credentials
            if client is not None and remembered and self.settings.account == remembered:
                # the dialog stood in for "remember me" (no network yet, no tray to wait
                # in, the token refused): back in what was joined, as it would have been
                self._rejoin_next = True
            return client
        finally:
            self.sign_in_dialog.deleteLater()
            self.sign_in_dialog = None

    async def _remembered_sign_in(self) -> InterphoneClient | None:
        """"Remember me": sign in with the remembered token without asking; None if that fails."""
        settings = self.settings
        if not settings.remember or not settings.uid:
            return None
        token = settings.token
        if not token:
            return None
        credentials = remembered_credentials(settings, token)  # (TLS as it last signed in)
        if credentials is None:
            return None
        client = await self._reconnect(credentials)
        if client is None and self._start_hidden and self._worth_retrying():
            client = await self._retry_in_tray(credentials)
        if client is not None:
            logger.info("signed in as %s with the remembered token", settings.uid)
            self.credentials = credentials
            self.auto_signed_in = True
            self._rejoin_next = True
        return client

    def _worth_retrying(self) -> bool:
        """The server could not be reached (no network yet, the server down) or could not
        reach its database (a login refused "store unavailable"), which the next attempt
        may not meet; a refused token or a certificate problem it would."""
        failure = self._connect_failure
        kind = failure_of(failure).kind if failure is not None else None
        return kind is FailureKind.STORE_UNAVAILABLE or (
            isinstance(failure, ServerUnreachable) and not failure_of(failure).kind.tls)

    async def _retry_in_tray(self, credentials: Credentials) -> InterphoneClient | None:
        """Started in the background (at login) and the server cannot be reached yet: stay
        in the tray ("Offline — retrying") and try again with the client's reconnect
        back-off until it can. None, with ``_connect_failure`` set, sends to the sign-in
        dialog: the token was refused, the certificate failed, "Sign in…" was chosen,
        or no tray has been there for ``TRAY_GRACE_S``; None after Quit ends the app."""
        loop = asyncio.get_running_loop()
        self._waiting = loop.create_future()
        tray = self.offline_tray = OfflineTray()
        tray.sign_in_requested.connect(lambda: self._stop_waiting("sign_in"))
        tray.quit_requested.connect(self.quit)
        attempt = 1
        try:
            for delay in backoff_delays(*RETRY_BACKOFF):
                attempt += 1
                tray.set_attempt(attempt, self._connect_failure)
                if not await self._wait_in_tray(delay):
                    logger.info("no system tray to wait in: asking to sign in")
                    return None
                if self._waiting.done():
                    self._quitting |= self._waiting.result() == "quit"
                    return None
                client = await self._reconnect(credentials)
                if self._waiting.done():  # Quit (or Sign in…) while that attempt ran
                    self._quitting |= self._waiting.result() == "quit"
                    if client is not None and self._quitting:
                        await client.close()
                        return None
                if client is not None or not self._worth_retrying():
                    return client
        finally:
            self.tray_watch.unwatch(self)
            self._waiting = None
            self.offline_tray = None
            tray.close()
        return None  # (the back-off never ends)

    async def _wait_in_tray(self, delay: float) -> bool:
        """The retries' pause of ``delay`` s (ended early by Quit or "Sign in…"); False as
        soon as no tray has been there for ``TRAY_GRACE_S`` (the retries would go on
        unseen)."""
        assert self._waiting is not None
        return await self.tray_watch.pause(self, self._waiting, delay, grace=TRAY_GRACE_S,
                                           poll_s=TRAY_POLL_S,
                                           present_poll_s=TRAY_PRESENT_POLL_S)

    async def _reconnect(self, credentials: Credentials) -> InterphoneClient | None:
        """A new client for the same account; None (back to the sign-in) if that fails."""
        client = credentials.client()
        try:
            await client.connect()
        except ClientError as exc:
            logger.warning("connecting failed: %s", exc)
            self._connect_failure = exc  # the sign-in dialog that follows says why
            await client.close()
            return None
        return client

    async def _session(self, client: InterphoneClient) -> Outcome:
        self._outcome = asyncio.get_running_loop().create_future()
        window = self.window = MainWindow()
        self._open_audio(client)
        self.presenter = Presenter(window, client, self.audio, self.settings,
                                   self._heard_by(client))
        self.preferences = PreferencesController(
            window, self.settings, self.switcher, lambda: self.audio, self._restart_audio,
            window.set_talk_key, self._on_settings_changed,
            global_key_for_run=self._global_key_for_run)
        window.settings_requested.connect(self._open_settings)
        self._wire_background(window)
        self._follow_streams()
        if not self.options.demo:
            if self._rejoin_next and client.model.joined is None:
                self.tasks.spawn(self.joined_memory.rejoin(client), "rejoin")
            self._rejoin_next = False
            self.joined_memory.follow(client)
        window.quit_requested.connect(self.quit)
        window.sign_out_requested.connect(self.sign_out)
        window.reconnect_requested.connect(self.reconnect)
        window.sign_out_action.setEnabled(not self.options.demo)
        place_window(window, self.options.size, self.settings.geometry)
        if self._start_hidden and self.tray is not None:
            # in the tray; shown if there is none a few seconds on (a panel that starts a
            # moment after the apps of the login keeps it there)
            self.tray.watch_hidden()
        else:
            window.show()
        self._announce_audio()
        notes = [self.switcher.note] if self.switcher.note else []
        if not self.settings.writable and not self._settings_problem_said:
            self._settings_problem_said = True  # once, not at each sign-in
            notes.append(fill(QCoreApplication.translate(
                "Runtime", "Settings cannot be saved: %1 cannot be written. Changes will be "
                "lost at exit."), self.settings.store.fileName()))
        if notes:
            window.show_message(" ".join(notes), 15000)
        self.ready.set()
        QTimer.singleShot(SETTLE_DELAY_MS, window, self._settle)
        if self._quitting:  # quit (--quit-after) while signing in: not a session to wait in
            self.quit()
        outcome = await self._outcome
        await self._end_session()
        return outcome

    def _heard_by(self, client: InterphoneClient) -> Heard:
        """What the earlier sessions of ``client``'s account heard (a new one for another
        account, or after signing out)."""
        where = self.credentials if self.credentials is not None else client
        account = f"{client.uid}@{where.host}:{where.port}"  # (the first server of a list)
        if self._heard is None or self._heard[0] != account:
            self._heard = (account, Heard())
        return self._heard[1]

    # --- background: global key, tray, microphone on demand ------------------------------------
    def _wire_background(self, window: MainWindow) -> None:
        # (cut with "…" in a narrow window)
        self.global_key_label = ElidedNote(window, colour="#607d8b")
        window.add_status_note(self.global_key_label)
        self._show_global_key(self.global_key.status)
        # the microphone opens at the press, while the floor is being asked for
        window.talk_pressed.connect(self._prepare_transmit)
        window.talk_released.connect(self._cancel_transmit)
        self.tray = TrayController(window, self.settings, talk_target=self._talk_target,
                                   key_status=self._global_key_text,
                                   refresh_status=self._refresh_link, watch=self.tray_watch)
        window.notifications = self.notifications

    def _on_notification_clicked(self, key: str) -> None:
        if self.tray is not None:
            self.tray.on_notification_clicked(key)

    def _hold_global_key(self, down: bool) -> None:
        field = recording_field() if down else None
        if field is not None and self.global_key.key_name:
            # a settings field records a key: it takes this one (the grab keeps it from
            # the field) instead of a talk on air, and its release is no talk either
            self._global_key_recorded = True
            field.record_name(self.global_key.key_name)
            return
        if not down and self._global_key_recorded:
            self._global_key_recorded = False
            return
        if self.window is not None:
            self.window.hold_global_key(down)

    def _refresh_link(self) -> None:
        """The connection status up to date (the tray's menu, as it opens)."""
        if self.presenter is not None:
            self.presenter.refresh_link()

    def _global_key_for_run(self) -> str | None:
        """The global talk key the command line set, while it is the one in effect."""
        return self.options.global_talk_key if self._key_from_command_line else None

    def _global_key_text(self, text: str | None = None) -> str:
        """The global key's status (``text``, else the service's), saying so when it
        comes from the command line: for the status bar and the tray's menu."""
        text = self.global_key.status if text is None else text
        return from_command_line(text) if text and self._key_from_command_line else text

    def _show_global_key(self, text: str) -> None:
        shown = self._global_key_text(text)
        label = self.global_key_label
        if label is not None and self.window is not None:
            label.setText(shown)
            label.setToolTip(shown)
            self.window.show_status_note(label)
        if self.tray is not None:  # (its menu has the status, or not: an entry more or less)
            self.tray.refresh(status=False)
        if self.preferences is not None and self.preferences.dialog is not None:
            if self._key_from_command_line:  # what the field shows, and what a change does
                note = command_line_note(self.options.global_talk_key or "")
                shown = "\n".join(part for part in (text, note) if part)
            self.preferences.dialog.set_global_key_status(shown)

    def _follow_streams(self) -> None:
        """Level meters are polled only while a stream runs (idle: no timer at all)."""
        if self.presenter is not None and self.audio is not None:
            self.presenter.set_level_polling(self.audio.streaming)

    def _prepare_transmit(self) -> None:
        # offline the press is refused at once (the window says why): no microphone for it
        if self.audio is not None and self.client is not None and self.client.connected:
            self.audio.prepare_transmit()

    def _cancel_transmit(self) -> None:
        if self.audio is not None:
            self.audio.cancel_transmit()

    def _talk_target(self) -> str:
        client, window = self.client, self.window
        if client is None or window is None or client.model.joined is None:
            return ""
        row = window.interphones.row(str(client.model.joined))
        return row.name if row is not None else str(client.model.joined)

    def _open_settings(self) -> None:
        if self.preferences is None:
            return
        dialog = self.preferences.open()
        self._show_global_key(self.global_key.status)
        dialog.set_tray_available(self.tray is not None and self.tray.available)

    def _on_settings_changed(self, changed: list[str]) -> None:
        if "language" in changed:
            self._show_global_key(self.global_key.status)  # worded when read
            self._announce_audio()
            if self.audio is not None and self.audio.device_error is not None:
                self._on_device_error(self.audio.device_error)
        if "talk_mode" in changed and self.window is not None:
            self.window.talk_intents.set_toggle_mode(self.settings.talk_mode == TOGGLE)
        if "global_talk_key" in changed:
            self._key_from_command_line = False
            self.tasks.spawn(self.global_key.apply(self.settings.global_talk_key),
                             "global talk key")
        if "start_at_login" in changed:
            try:
                set_start_at_login(self.settings.start_at_login,
                                   launch_command(self.options.settings_file))
            except OSError as exc:
                logger.warning("start at login: %s", exc)
                if self.window is not None:
                    self.window.show_message(fill(QCoreApplication.translate(
                        "Runtime", "Could not change the start at login: %1"),
                        error_text(exc)), 10000)

    def _timed_quit(self) -> None:
        if self.options.screenshot is not None:
            self.screenshot(self.options.screenshot)
        self.quit()

    def screenshot(self, path: Path) -> bool:
        """The main window, or the sign-in dialog while it is the one shown."""
        shown = self.window if self.window is not None else self.sign_in_dialog
        if shown is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = shown.grab().save(str(path))
        logger.info("screenshot %s: %s", path, "written" if ok else "FAILED")
        return ok

    # --- audio -------------------------------------------------------------------------------
    def _open_audio(self, client: InterphoneClient) -> None:
        settings = self.settings
        simulate = self.options.simulate_audio
        self.audio = open_audio(client.send_audio, frame_ms=settings.frame_ms,
                                bitrate=settings.bitrate, input_device=settings.input_device,
                                output_device=settings.output_device, simulate=simulate,
                                voice_clip=load_clip("alice") if self.options.demo else None)
        self.audio.on_device_error = self._on_device_error
        self.audio.engine.on_streams_changed = self._follow_streams

    def _on_device_error(self, error: AudioDeviceError) -> None:
        text = device_problem_text(error)
        if self.window is not None:
            self.window.set_audio_problem(text)
        if self.preferences is not None:
            self.preferences.show_device_problem(text)

    def _restart_audio(self) -> None:
        if self.client is None or self.presenter is None:
            return
        old = self.audio
        self.presenter.set_audio(None)
        if old is not None:
            old.close()
        self._open_audio(self.client)
        self.presenter.set_audio(self.audio)
        self._follow_streams()
        self._announce_audio()
        if self.window is not None:
            self.window.set_audio_problem("")

    def _announce_audio(self) -> None:
        if self.window is None or self.audio is None:
            return
        refusal = self.audio.refusal
        self.window.set_audio_note(self.audio.simulated, self.audio.note if refusal is None
                                   else device_error_text(refusal))

    # --- shutdown ----------------------------------------------------------------------------
    def _settle(self) -> None:
        """The session is up (window built, interphones joined): keep its long-lived
        objects out of later full collections (see ``gui_thread_gc``)."""
        if self.window is not None:
            gui_thread_gc.settle()

    async def _end_session(self) -> None:
        gui_thread_gc.unsettle()
        window = self.window
        if window is not None and self.options.size is None:
            self.settings.geometry = bytes(window.saveGeometry().toHex().data()).decode()
        self.joined_memory.stop()  # leaving at shutdown is not "left the interphone"
        if self.tray is not None:
            self.tray.close()
            self.tray = None
        self.global_key_label = None
        if self.presenter is not None:
            await self.presenter.close()
            self.presenter = None
        if self.client is not None:
            await self.client.close()
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        if window is not None:
            self._window_hidden = not window.isVisible()
            window.talk_key.detach()
            window.hide()
            window.deleteLater()
            self.window = None
        self.settings.sync()

    async def _shutdown(self) -> None:
        if self.window is not None or self.presenter is not None:
            try:
                await self._end_session()
            except Exception:
                logger.exception("ending the session")
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.world is not None:
            await self.world.stop()
            self.world = None
