"""The sign-in dialog over TLS: trust on first use, a changed certificate, the encryption line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel
from test_ui_support import run, sign_in_submitted, start_server, until

from app.client.trust import server_key
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context
from app.ui.i18n import LanguageSwitcher
from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import SignInFlow
from app.ui.view_types import CertificateDetails, SignInProblem

pytest_plugins = ["test_ui_support"]


def tls_server(loop: asyncio.AbstractEventLoop, folder: Path) -> tuple[InterphoneServer, str]:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=folder))
    return start_server(loop, tls=context), fingerprint


def test_first_use_shows_the_fingerprint_and_signs_in_once_accepted(qloop, settings,
                                                                     tmp_path: Path) -> None:
    server, fingerprint = tls_server(qloop, tmp_path)
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)
    address = f"127.0.0.1:{server.port}"

    async def scenario() -> None:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible)
        dialog.set_values(address, "me", "secret", False)
        dialog.tls.setChecked(True)
        assert "Encrypted" in dialog.encryption.text()
        dialog.ok.click()
        await until(dialog.error.isVisible, what="the certificate question")
        assert dialog.fingerprint.text().replace("\n", "") == fingerprint
        assert "First connection" in dialog.error.text()
        assert dialog.trust_certificate.isVisible() and not task.done()
        dialog.ok.click()  # not accepted yet: asked again, no sign-in
        await asyncio.sleep(0.3)
        assert not task.done() and dialog.trust_certificate.isVisible()
        dialog.trust_certificate.setChecked(True)
        dialog.ok.click()
        client = await asyncio.wait_for(task, 5)
        try:
            assert client is not None and client.connected
            assert "media-auth" in client.features  # encrypted voice as well
        finally:
            await client.close()

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())
    assert settings.known_fingerprints() == {server_key("127.0.0.1", server.port): fingerprint}
    assert settings.tls is True


def test_the_first_connection_question_says_the_fingerprint_once(qloop, settings,
                                                                 tmp_path: Path) -> None:
    server, fingerprint = tls_server(qloop, tmp_path)
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{server.port}", tls=True)
        await until(dialog.error.isVisible, what="the certificate question")
        shown = [label.text() for label in dialog.findChildren(QLabel) if label.isVisible()]
        everything = "\n".join(shown).replace(" ", "").replace("\n", "")
        assert everything.count(fingerprint) == 1, shown  # not in the TLS line and details
        assert "Details" not in dialog.error.text() and fingerprint not in dialog.error.text()
        assert dialog.fingerprint.isVisible()
        assert dialog.fingerprint.text().replace("\n", "") == fingerprint
        assert len(dialog.fingerprint.text().splitlines()) == 4  # 8 bytes a line
        assert dialog.fingerprint.textInteractionFlags() \
            & Qt.TextInteractionFlag.TextSelectableByMouse
        assert dialog.encryption.text() == "Encrypted (TLS)."  # no fingerprint, no "checked later"
        assert dialog.error.text().count("First connection") == 1
        assert "tick the box" in dialog.advice.text() and dialog.advice.isVisible()
        dialog.reject()
        assert await asyncio.wait_for(task, 5) is None

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_a_changed_certificate_is_refused_with_a_warning_until_accepted(
        qloop, settings, tmp_path: Path) -> None:
    server, fingerprint = tls_server(qloop, tmp_path)
    remembered = "AB:" * 31 + "AB"
    settings.remember_fingerprint(server_key("127.0.0.1", server.port), remembered)
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{server.port}", tls=True)
        await until(dialog.error.isVisible, what="the warning")
        text = dialog.error.text().replace(" ", "")
        assert "WARNING" in dialog.error.text() and remembered in text and fingerprint in text
        assert flow._offered is not None and flow._offered[1] == fingerprint
        assert dialog._problem is not None and dialog._problem[0] is SignInProblem.CERT_CHANGED
        dialog.trust_certificate.setChecked(True)
        dialog.ok.click()
        client = await asyncio.wait_for(task, 5)
        assert client is not None
        await client.close()

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())
    assert list(settings.known_fingerprints().values()) == [fingerprint]


@pytest.mark.parametrize(("language", "changed", "confirm"),
                         [("en", "has changed", "confirm"), ("zh_CN", "更换", "确认")])
def test_the_changed_certificate_warning_says_it_has_changed_once(
        qapp, qtbot, language: str, changed: str, confirm: str) -> None:
    """The warning said the certificate had changed and to wait for the operator, then its
    details said both again: the details now give only the two fingerprints and what to do."""
    server, now, before = "127.0.0.1:9400", "AB:" * 31 + "AB", "CD:" * 31 + "CD"
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    switcher.apply(language)
    try:
        dialog = SignInDialog()
        qtbot.addWidget(dialog)
        dialog.set_problem(SignInProblem.CERT_CHANGED, CertificateDetails(server, now, before))
        summary, details = dialog.error.text().split("\n")
        text, whole = dialog.error.text(), dialog.error.text().replace(" ", "")
        assert text.count(changed) == 1 and changed in summary, text
        assert text.count(confirm) == 1 and confirm in details, text
        assert server in summary and server not in details
        assert whole.count(before) == 1 and whole.count(now) == 1
        assert before not in summary.replace(" ", "") and now not in summary.replace(" ", "")
    finally:
        switcher.apply("en")


def test_plain_connection_is_marked_not_encrypted(qapp) -> None:
    dialog = SignInDialog()
    dialog.set_tls(False)
    assert "Not encrypted" in dialog.encryption.text()
    dialog.set_tls(True)
    assert "Encrypted (TLS)" in dialog.encryption.text()


def test_tls_to_a_plain_server_is_named_and_sends_no_credentials(qloop, server,
                                                                  settings) -> None:
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=3.0)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{server.port}", tls=True)
        await until(dialog.error.isVisible, what="the TLS problem")
        assert "encrypted connection failed" in dialog.error.text()
        assert not server.state.sessions  # nobody logged in: the token never left
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_certificate_question_has_a_letter_of_its_own(qapp, qtbot, language: str) -> None:
    """"&Token" and "&trust this certificate" shared T: Alt+T only moved the focus between
    the two, so the certificate could not be accepted from the keyboard with its letter.
    Every control shown with the question has a letter no other one uses."""
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    switcher.apply(language)
    try:
        dialog = SignInDialog()
        qtbot.addWidget(dialog)
        dialog.set_problem(SignInProblem.CERT_NEW, "")
        dialog.show()
        qtbot.waitExposed(dialog)
        widgets = [*dialog.findChildren(QLabel), *dialog.findChildren(QAbstractButton)]
        texts = [widget.text() for widget in widgets if widget.isVisible()]
        letters = [match.group(1).casefold() for text in texts
                   if (match := re.search(r"&([^&\s])", text))]
        assert "t" in letters and len(letters) == len(set(letters)), texts
        mnemonic = re.search(r"&(\w)", dialog.trust_certificate.text())
        assert mnemonic is not None
        dialog.activateWindow()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)
        qtbot.keyClick(dialog.windowHandle(), mnemonic.group(1).lower(),
                       Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(dialog.trust_certificate.isChecked, timeout=2000)  # (animated click)
    finally:
        switcher.apply("en")


@pytest.mark.parametrize("accepted", [True, False])
def test_remember_me_at_start_keeps_tls_and_the_accepted_certificate(
        qloop, qapp, settings, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        accepted: bool) -> None:
    """"Remember me" signed in at start in plain text whatever the TLS box said: against a
    TLS server it failed ("the server may require TLS"), against a plain one it sent the
    token in clear. Now it signs in over TLS pinned to the accepted certificate, or, with
    none accepted yet, leaves it to the dialog (which asks) without connecting in clear."""
    from app.server.tcp import PLAIN_TEXT_ON_TLS
    from app.ui.runtime import Options, Runtime

    server, fingerprint = tls_server(qloop, tmp_path)
    settings.server_address = f"127.0.0.1:{server.port}"
    settings.uid, settings.token, settings.remember, settings.tls = "me", "secret", True, True
    if accepted:
        settings.remember_fingerprint(server_key("127.0.0.1", server.port), fingerprint)
    runtime = Runtime(qapp, Options(simulate_audio=True), settings, LanguageSwitcher(qapp))

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        if accepted:
            await asyncio.wait_for(runtime.ready.wait(), 5)
            assert runtime.sign_in_dialog is None and runtime.auto_signed_in
            assert runtime.client is not None and "media-auth" in runtime.client.features
            runtime.quit()
        else:
            await until(lambda: runtime.sign_in_dialog is not None
                        and runtime.sign_in_dialog.isVisible(), what="the sign-in dialog")
            assert runtime.sign_in_dialog.tls.isChecked() and not runtime.auto_signed_in
            await asyncio.sleep(0.3)
            runtime.sign_in_dialog.reject()
        return await asyncio.wait_for(main, 5)

    try:
        assert run(qloop, scenario()) == 0
    finally:
        run(qloop, server.stop())
    assert not [r for r in caplog.records if PLAIN_TEXT_ON_TLS in r.getMessage()]
