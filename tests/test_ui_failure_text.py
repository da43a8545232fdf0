"""Client failures worded in the interface's language (issue 14): app/client gives the
failure as data, the desktop words it; the Chinese interface shows Chinese, the English
one English (real Qt offscreen, the real compiled .qm, the real client and server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from test_ui_support import run, sign_in_submitted, start_server, until
from waiting import free_port

from app.client.failures import Failure, FailureKind, OsReason
from app.ui.failure_text import error_text, failure_text
from app.ui.i18n import LanguageSwitcher
from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import SignInFlow
from app.ui.view_types import SignInProblem

pytest_plugins = ["test_ui_support"]

SERVER = "[fe80::1%2]:9400"  # a value with a placeholder-like "%2" of its own
FINGERPRINT = ":".join(["AB"] * 32)
CJK = re.compile(r"[\u4e00-\u9fff]")


def sample(kind: FailureKind) -> Failure:
    """A failure of ``kind`` with the values its sentence names."""
    details = {FailureKind.TLS_FINGERPRINT_MISMATCH: FINGERPRINT,
               FailureKind.TLS_UNKNOWN_ISSUER: "unable to get local issuer certificate",
               FailureKind.TLS_NAME_MISMATCH: "Hostname mismatch",
               FailureKind.TLS_CERTIFICATE_REFUSED: "50",
               FailureKind.TLS_NO_COMMON_VERSION: "UNSUPPORTED_PROTOCOL",
               FailureKind.TLS_HANDSHAKE_FAILED: "SSLV3_ALERT_HANDSHAKE_FAILURE",
               FailureKind.SERVER_ERROR: "not a member",
               FailureKind.LEFT_THE_LINE: "displaced"}
    return Failure(kind, SERVER, details.get(kind, ""), seconds=2.5, request="JoinRequest",
                   errcode=403, os_reason=OsReason.REFUSED)


WORDED = [kind for kind in FailureKind if kind not in (FailureKind.OTHER,
                                                         FailureKind.TLS_OTHER)]


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


def without_data(text: str, failure: Failure) -> str:
    """``text`` without the failure's values (they stay as they are in any language), nor
    the name of TLS itself."""
    for value in (failure.server, failure.detail, f"{failure.seconds:g}",
                  str(failure.errcode), "TLS"):
        if value:
            text = text.replace(value, "")
    return text


@pytest.mark.parametrize("kind", WORDED, ids=str)
def test_each_failure_is_worded_in_chinese_and_in_english(switcher, kind: FailureKind) -> None:
    failure = sample(kind)
    english = failure_text(failure)
    assert english and not CJK.search(english), english
    switcher.apply("zh_CN")
    chinese = failure_text(failure)
    assert CJK.search(chinese), chinese
    assert not re.search("[A-Za-z]", without_data(chinese, failure)), chinese
    for value in (failure.server, failure.detail):
        named = value in english
        assert (value in chinese) == named, (value, chinese)  # the same values shown
    switcher.apply("en")
    assert failure_text(failure) == english


@pytest.mark.parametrize("kind", [FailureKind.OTHER, FailureKind.TLS_OTHER], ids=str)
def test_an_unknown_failure_shows_its_own_words(switcher, kind: FailureKind) -> None:
    failure = Failure(kind, SERVER, "chain too long")
    switcher.apply("zh_CN")
    assert "chain too long" in failure_text(failure)


def test_the_os_reason_is_translated_and_an_unknown_one_shown_as_it_is(switcher) -> None:
    refused = Failure(FailureKind.CANNOT_REACH, SERVER, "Connection refused",
                      os_reason=OsReason.REFUSED)
    odd = Failure(FailureKind.CANNOT_REACH, SERVER, "Too many open files",
                  os_reason=OsReason.OTHER)
    assert "refused" in failure_text(refused) and SERVER in failure_text(refused)
    switcher.apply("zh_CN")
    assert "Connection refused" not in failure_text(refused)
    assert "拒绝" in failure_text(refused) and SERVER in failure_text(refused)
    assert failure_text(odd).endswith("Too many open files。")


def test_a_request_failure_is_chinese_from_the_exception(switcher) -> None:
    """What the main window's "Request failed: %1" can show instead of str(exc)."""
    from app.client import ServerError

    error = ServerError(403, "not a member", request="JoinRequest")
    assert error_text(error) == "Not allowed (error 403): not a member"
    switcher.apply("zh_CN")
    assert error_text(error) == "不允许（错误 403）：not a member"
    assert error_text(ConnectionResetError(104, "reset")) == "连接被重置"


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 413, 429, 500])
def test_each_error_code_of_the_contract_says_what_it_means(switcher, code: int) -> None:
    """PROTOCOL.md section 4's codes are worded by their meaning in both languages; the
    server's own words follow as they are."""
    failure = Failure(FailureKind.SERVER_ERROR, SERVER, "", errcode=code)
    english = failure_text(failure)
    assert not english.startswith("The server answered with error"), english
    assert english.endswith(f"(error {code}).")
    worded = failure_text(Failure(FailureKind.SERVER_ERROR, SERVER, "lixx is speaking",
                                  errcode=code))
    assert worded == english[:-1] + ": lixx is speaking"
    switcher.apply("zh_CN")
    chinese = failure_text(failure)
    assert CJK.search(chinese) and not re.search("[A-Za-z]", chinese), chinese
    assert f"错误 {code}" in chinese


def test_an_error_code_outside_the_contract_is_named_with_the_servers_words(switcher) -> None:
    failure = Failure(FailureKind.SERVER_ERROR, SERVER, "teapot", errcode=418)
    assert failure_text(failure) == "The server answered with error 418: teapot"
    switcher.apply("zh_CN")
    assert failure_text(failure) == "服务器返回错误 418：teapot"


# ---- in the sign-in dialog ---------------------------------------------------------------------


def details(dialog: SignInDialog) -> str:
    return dialog.error.text().split("\n")[-1]


async def attempt(dialog: SignInDialog, flow: SignInFlow, address: str,
                  tls: bool = False) -> asyncio.Future:
    task = await sign_in_submitted(dialog, flow, address, tls=tls)
    await until(dialog.error.isVisible, what="the problem")
    return task


def test_unreachable_details_are_chinese_and_follow_a_language_switch(
        qloop, settings, switcher) -> None:
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=2.0)
    address = f"127.0.0.1:{free_port()}"

    async def scenario() -> None:
        task = await attempt(dialog, flow, address)
        assert dialog._problem is not None
        assert dialog._problem[0] is SignInProblem.UNREACHABLE
        # said once, with the reason ("Cannot reach the server at … Details: Cannot
        # reach …: the connection was refused" said it twice)
        english = dialog.error.text()
        assert english == (f"Cannot reach the server at {address}: the connection was "
                           "refused (no server on this port?). Check the address and that "
                           "the server is running.")
        switcher.apply("zh_CN")  # live: the shown details are worded again
        QCoreApplication.processEvents()
        chinese = dialog.error.text()
        assert chinese == (f"无法连接服务器 {address}：连接被拒绝（此端口上没有服务器？）。"
                           "请检查地址，并确认服务器正在运行。")
        switcher.apply("en")
        QCoreApplication.processEvents()
        assert dialog.error.text() == english
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


@pytest.mark.parametrize(("failure", "reason"), [
    (Failure(FailureKind.CANNOT_REACH, "h:9400", "Connection timed out",
             os_reason=OsReason.TIMED_OUT), "no answer in time"),
    (Failure(FailureKind.CANNOT_REACH, "h:9400", "Name or service not known",
             os_reason=OsReason.UNKNOWN_HOST), "unknown host name"),
    (Failure(FailureKind.CANNOT_CONNECT, "h:9400", "Address family not supported.",
             os_reason=OsReason.OTHER), "Address family not supported"),
    (Failure(FailureKind.NO_ANSWER, "h:9400", seconds=5.0), "no answer within 5 s")])
def test_an_unreachable_server_is_said_once_with_its_reason(qapp, failure: Failure,
                                                            reason: str) -> None:
    dialog = SignInDialog()
    dialog.set_values(SERVER, "alice", "pw", False)
    dialog.set_problem(SignInProblem.UNREACHABLE, failure)
    assert dialog.error.text() == (f"Cannot reach the server at {SERVER}: {reason}. Check "
                                   "the address and that the server is running.")
    dialog.close()


def test_tls_to_a_plain_server_details_are_chinese(qloop, server, settings, switcher) -> None:
    switcher.apply("zh_CN")
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=3.0)
    address = f"127.0.0.1:{server.port}"

    async def scenario() -> None:
        task = await attempt(dialog, flow, address, tls=True)
        assert dialog.error.text() == (
            f"加密连接失败。\n详情：与 {address} 的加密连接：服务器在此端口上不支持 TLS"
            "（它以明文应答：请不加密登录）")
        assert not server.state.sessions  # the token never left
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


def test_plain_to_a_tls_server_details_are_chinese(qloop, settings, switcher,
                                                    tmp_path: Path) -> None:
    """The login fails after the connection was made: an "other" problem."""
    from app.server.tls import TlsOptions, load_server_context

    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    server = start_server(qloop, tls=context)
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=3.0)

    async def scenario() -> None:
        task = await attempt(dialog, flow, f"127.0.0.1:{server.port}")
        assert dialog._problem is not None and dialog._problem[0] is SignInProblem.OTHER
        assert details(dialog) == ("Details: The server closed the connection before any "
                                   "answer (it may require an encrypted connection).")
        switcher.apply("zh_CN")
        QCoreApplication.processEvents()
        assert dialog.error.text() == (
            "登录失败。\n详情：服务器未作任何应答就关闭了连接（它可能需要加密连接）。")
        dialog.reject()
        assert await task is None

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_tls_to_a_closed_port_is_unreachable_not_a_tls_problem(qloop, settings,
                                                               switcher) -> None:
    """The certificate probe could not connect at all: the address is what to fix."""
    switcher.apply("zh_CN")
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=2.0)
    address = f"127.0.0.1:{free_port()}"

    async def scenario() -> None:
        task = await attempt(dialog, flow, address, tls=True)
        assert dialog._problem is not None
        assert dialog._problem[0] is SignInProblem.UNREACHABLE
        assert dialog.error.text() == (f"无法连接服务器 {address}：连接被拒绝（此端口上没有"
                                       "服务器？）。请检查地址，并确认服务器正在运行。")
        assert dialog.address.hasFocus() or not dialog.isActiveWindow()
        dialog.reject()
        assert await task is None

    run(qloop, scenario())
