"""The Simplified Chinese translation is complete, compiled, and in sync with the code."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QTranslator
from PySide6.QtWidgets import QToolButton

from app.ui.assets import resources_dir, translation_path

TS = resources_dir() / "i18n" / "interphone_zh_CN.ts"


def messages() -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(TS).getroot()
    return [(context.findtext("name") or "", message.findtext("source") or "",
             message.find("translation"))
            for context in root.iter("context") for message in context.iter("message")]


def test_every_string_is_translated() -> None:
    untranslated = [(context, source) for context, source, translation in messages()
                    if translation is None or not (translation.text or "").strip()
                    or translation.get("type") in ("unfinished", "obsolete", "vanished")]
    assert untranslated == []


def test_placeholders_and_accelerators_survive_translation() -> None:
    for _context, source, translation in messages():
        text = translation.text or ""
        for placeholder in ("%1", "%2"):
            assert (placeholder in source) == (placeholder in text), source
        if "&" in source.replace("&amp;", ""):
            assert "&" in text, source


def test_compiled_translation_loads_and_translates(qapp) -> None:
    translator = QTranslator()
    assert translator.load(str(translation_path("zh_CN")))
    assert translator.translate("TalkButton", "Hold to talk") == "按住讲话"
    assert QCoreApplication.translate("TalkButton", "Hold to talk") == "Hold to talk"


@pytest.mark.skipif(shutil.which("pyside6-lupdate", path=str(Path(sys.executable).parent))
                    is None, reason="pyside6-lupdate not installed")
def test_ts_file_covers_every_string_in_the_code(tmp_path) -> None:
    lupdate = shutil.which("pyside6-lupdate", path=str(Path(sys.executable).parent))
    copy = tmp_path / "check.ts"
    shutil.copy(TS, copy)
    sources = sorted(str(p) for p in (resources_dir().parent / "app" / "ui").glob("*.py"))
    result = subprocess.run([lupdate, *sources, "-ts", str(copy)], capture_output=True,
                            text=True, check=True)
    assert "(0 new and" in result.stdout + result.stderr, result.stdout + result.stderr


def test_zh_cn_names_the_app_and_the_talk_tab_consistently(qapp) -> None:
    """Issue 14: the tab read 正在讲话 (a verb phrase); the app was 实时对讲 and 对讲."""
    translator = QTranslator()
    assert translator.load(str(translation_path("zh_CN")))
    assert translator.translate("SettingsDialog", "Talking") == "通话"
    app_name = translator.translate("MainWindow", "Interphone")
    for context, source in (("MainWindow", "&Interphone"), ("TrayController", "Show Interphone"),
                            ("SignInDialog", "Interphone"),
                            ("SignInDialog", "Sign in to Interphone"),
                            ("SettingsDialog", "Interphone settings"),
                            ("MainWindow", "About Interphone")):
        assert app_name in translator.translate(context, source), (context, source)


def test_zh_cn_talk_key_field_and_button_name_the_key_alike(qtbot) -> None:
    """The key field showed "Space" while the talk button said 空格."""
    from app.ui.i18n import LanguageSwitcher
    from app.ui.main_window import MainWindow
    from app.ui.settings_dialog import SettingsDialog
    from app.ui.view_types import Preferences

    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    switcher.apply("zh_CN")
    try:
        window = MainWindow()
        qtbot.addWidget(window)
        dialog = SettingsDialog()
        qtbot.addWidget(dialog)
        for key in ("Space", "RightCtrl", "F9"):
            window.set_talk_key(key)
            dialog.set_preferences(Preferences(talk_key=key))
            assert window.panel.talk_button._key_name == dialog.talk_key.text(), key
        assert dialog.talk_key.text() == "F9"
        window.set_talk_key("RightCtrl")
        assert window.panel.talk_button._key_name == "右 Ctrl"
        window.talk_key.detach()
    finally:
        switcher.apply("en")


def test_zh_cn_certificate_details_are_chinese_and_follow_a_language_switch(qtbot) -> None:
    """The details of the certificate question came worded in English from
    app/client/trust.py: the Chinese dialog showed an English paragraph."""
    import re

    from app.ui.i18n import LanguageSwitcher
    from app.ui.sign_in import SignInDialog
    from app.ui.view_types import CertificateDetails, SignInProblem

    server, now, before = "127.0.0.1:9400", "AB:" * 31 + "AB", "CD:" * 31 + "CD"

    def details_line(dialog: SignInDialog) -> str:
        line = dialog.error.text().split("\n")[-1].replace(" ", "")  # fingerprints wrap
        return line.replace(server, "").replace(now.replace(" ", ""), "").replace(before, "")

    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    try:
        dialog.set_problem(SignInProblem.CERT_CHANGED, CertificateDetails(server, now, before))
        assert "has changed" in dialog.error.text()  # English first
        switcher.apply("zh_CN")  # live: the shown question is worded again
        QCoreApplication.processEvents()  # (the LanguageChange event is posted)
        changed = details_line(dialog)
        assert changed.startswith("详情：") and "您之前接受的是" in changed
        assert "证书在您接受之后已更换" in dialog.error.text().split("\n")[0]
        assert not re.search("[A-Za-z]", changed), changed  # only the data stays Latin
        assert before in dialog.error.text().replace(" ", "")
        dialog.set_problem(SignInProblem.CERT_NEW, CertificateDetails(server, now))
        first = dialog.error.text().replace(server, "") + dialog.advice.text()
        assert "首次连接" in first and not re.search("[A-Za-z]", first), first
        assert dialog.fingerprint.text().replace("\n", "") == now and server in dialog.error.text()
    finally:
        switcher.apply("en")


def test_zh_cn_list_headers_and_unheard_replays_use_chinese_punctuation(qtbot) -> None:
    """The list's section headers ("Groups (2)"), an unheard transmission's play button
    ("…, not heard yet") and a replay row's length were put together with ASCII brackets
    and a comma around the translated words: 群组 (2)."""
    from app.ui.floor_widgets import ReplayItem, ReplayList
    from app.ui.i18n import LanguageSwitcher
    from app.ui.interphone_list import InterphoneList
    from app.ui.view_types import InterphoneRow, RowKind

    listing, replay = InterphoneList(), ReplayList()
    qtbot.addWidget(listing)
    qtbot.addWidget(replay)
    listing.set_rows([InterphoneRow("group_58", RowKind.GROUP, "Ops", 3),
                      InterphoneRow("group_59", RowKind.GROUP, "Maintenance")])
    replay.set_items([ReplayItem(1, "Alice", "07:00:10", 12.0, False)])
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    try:
        switcher.apply("zh_CN")
        QCoreApplication.processEvents()  # (the LanguageChange event is posted)
        header = listing.tree.topLevelItem(0)
        assert header is not None and header.text(0) == "群组（2）"
        names = [b.accessibleName() for b in replay.findChildren(QToolButton)]
        assert names == ["重新播放：Alice，07:00:10（0:12），尚未收听"], names
        assert replay.item_texts() == ["● Alice  07:00:10  （0:12）"]  # (the row's details too)
        assert replay.title.text() == "回放（1 条未听）"  # one string, not 回放 + " " + （…）
    finally:
        switcher.apply("en")


def test_zh_cn_names_the_talk_target_alike_in_the_tray_and_the_list() -> None:
    """The tray's menu read 通话对象 ("the party of a call") where the list's row reads
    发言频道 for the same talk target."""
    term = {source: (translation.text or "") for _context, source, translation in messages()}[
        "Talk target"]
    for _context, source, translation in messages():
        if source.startswith("Talk target"):
            assert (translation.text or "").startswith(term), source


def test_zh_cn_names_the_talk_key_alike_everywhere() -> None:
    """The settings' field read 讲话键 (the key to talk) and the global one beside it
    全局通话键, as did the messages about the in-window key: one term, 讲话键."""
    term = {source: (translation.text or "") for _context, source, translation in messages()}[
        "Talk &key:"]
    assert term.startswith("讲话键")
    for _context, source, translation in messages():
        if "talk key" in source.lower():
            assert "讲话键" in (translation.text or ""), source
            assert "通话键" not in (translation.text or ""), source
