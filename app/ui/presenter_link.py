"""The presenter's connection status: the status bar's link (connecting, connected and
how, degraded while the server cannot reach its database, reconnecting and its attempt,
offline and why), the Reconnect offer, and whether audio gets through to the server
(``MediaPathChanged``: UDP blocked on the way while the signaling works).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication

from app.client import ConnectionState, MediaPathChanged, StoreChanged
from app.client.failures import Failure
from app.client.store_outage import is_store_unavailable
from app.protocol import ErrCode
from app.protocol.messages import ACCOUNT_REMOVED
from app.ui.failure_text import failure_text
from app.ui.presenter_core import PresenterCore
from app.ui.view_types import LinkState

_LINKS = {ConnectionState.DISCONNECTED: LinkState.OFFLINE,
          ConnectionState.CONNECTING: LinkState.CONNECTING,
          ConnectionState.CONNECTED: LinkState.CONNECTED,
          ConnectionState.RECONNECTING: LinkState.RECONNECTING,
          ConnectionState.KICKED: LinkState.OFFLINE,
          ConnectionState.REFUSED: LinkState.OFFLINE,
          ConnectionState.CLOSED: LinkState.OFFLINE}

logger = logging.getLogger(__name__)

NO_AUDIO_MESSAGE_MS = 20000

# (a kick for another reason than ACCOUNT_REMOVED is a sign-in elsewhere)


def store_wait_text(name: str) -> str:
    """The status bar's message for a join clicked while the server cannot reach its
    database: it waits for it (short: the degraded status beside it says why)."""
    return QCoreApplication.translate(
        "Presenter", "%1 will be joined once the server's database is back").replace(
        "%1", name)


class PresenterLink(PresenterCore):
    """The link in the status bar, and audio blocked on the way told."""

    _no_audio_said: bool = False
    _certificate_said: str = ""  # a certificate refused while reconnecting, as shown
    _store_wait_said: str = ""  # "X will be joined once the ... database is back", as shown

    def _show_link(self) -> None:
        state = self.model.connection
        translate = QCoreApplication.translate
        detail = ""
        if state is ConnectionState.KICKED and self.model.connection_detail == ACCOUNT_REMOVED:
            detail = translate("Presenter", "your account was removed from the server's "
                                            "directory")
        elif state is ConnectionState.KICKED:
            detail = translate("Presenter", "signed in elsewhere")
        elif state is ConnectionState.REFUSED:
            detail = translate("Presenter", "sign-in refused")
        elif state is ConnectionState.RECONNECTING:
            failed = self.client.stats.reconnect_attempts
            if failed and is_store_unavailable(ErrCode.SERVER_FAULT,
                                               self.model.connection_detail):
                # (its login refused: not the network, which "attempt N" alone suggested)
                detail = translate("Presenter", "attempt %1: the server cannot reach its "
                                                "database").replace("%1", str(failed + 1))
            elif failed:
                detail = translate("Presenter", "attempt %1").replace("%1", str(failed + 1))
        elif state is ConnectionState.CONNECTED and not self.model.media_reachable:
            detail = translate("Presenter", "no audio: UDP blocked on the way")
        elif state is ConnectionState.CONNECTED:
            # which node of the list answered; each detail a whole text (Chinese has
            # full-width commas)
            node = (f"{self.client.host}:{self.client.port}" if len(self.client.servers) > 1
                    else "")
            if not self.client.encrypted:
                detail = node
            elif node:
                detail = translate("Presenter", "encrypted, %1").replace("%1", node)
            else:
                detail = translate("Presenter", "encrypted")
        link = _LINKS[state]
        if link is LinkState.CONNECTED and not self.model.store_available:
            link = LinkState.DEGRADED  # (probed by the client until the server answers)
        self.window.set_link(link, detail)
        if state is not ConnectionState.CONNECTED:  # (the client dropped the waiting join)
            self._withdraw_store_wait()
        self._say_refused_certificate(self.client.stats.refused_certificate
                                      if state is ConnectionState.RECONNECTING else None)
        self.window.offer_reconnect(state in (ConnectionState.KICKED,
                                              ConnectionState.DISCONNECTED))

    def _say_refused_certificate(self, failure: Failure | None) -> None:
        """A server of the list refused for its certificate while reconnecting: said in
        the status bar until the link is back (the attempts go on: "reconnecting" alone
        hid that they cannot succeed there)."""
        text = failure_text(failure) if failure is not None else ""
        if text == self._certificate_said:
            return
        self.window.withdraw_message(self._certificate_said)
        self._certificate_said = text
        if text:
            logger.warning("reconnecting: %s", text)
            self.window.show_message(text, 0)

    def _on_store(self, event: StoreChanged) -> None:
        """The server lost or found its database again: the link says it meanwhile (the
        client probes); its return is said once."""
        self._show_link()
        if event.available:
            self._withdraw_store_wait()
            self.window.show_message(QCoreApplication.translate(
                "Presenter", "The server reaches its database again"))

    def _join_when_store_back(self, interphone_id: str) -> None:
        """A join refused because the server cannot reach its database: asked again once
        it is back (the last one clicked; dropped if the connection ends first)."""
        name = self._names.get(interphone_id, interphone_id)
        if self.client.when_store_back("join", lambda: self.join(interphone_id)):
            text = store_wait_text(name)
        else:  # (back already: the user may click again)
            text = QCoreApplication.translate(
                "Presenter", "The server could not reach its database: join %1 again"
            ).replace("%1", name)
        self._withdraw_store_wait()
        self._store_wait_said = text
        self.window.show_message(text, 0)

    def _withdraw_store_wait(self) -> None:
        """The waiting join is done or dropped: its message (shown until then) goes."""
        self.window.withdraw_message(self._store_wait_said)
        self._store_wait_said = ""

    def refresh_link(self) -> None:
        """Show the connection status now (the tray's menu asks as it opens)."""
        self._show_link()

    def _on_media_path(self, event: MediaPathChanged) -> None:
        """The server stopped or started answering our media registrations: said once
        each way, the link's detail saying it meanwhile."""
        self._show_link()
        if not event.reachable and not self._no_audio_said:
            self._no_audio_said = True
            self.window.show_message(QCoreApplication.translate(
                "Presenter", "No audio either way: UDP to the server gets no answer (a "
                "firewall?)"), NO_AUDIO_MESSAGE_MS)
        elif event.reachable and self._no_audio_said:
            self._no_audio_said = False
            self.window.show_message(QCoreApplication.translate(
                "Presenter", "Audio gets through to the server again"))
