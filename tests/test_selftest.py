"""`interphone --self-test` from source: the verdict, the exit code, the report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import selftest

ROOT = Path(__file__).resolve().parent.parent


def run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )


def test_self_test_from_source_passes_every_step() -> None:
    result = run_app("--self-test")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines[-1].startswith("self-test: ok ("), lines
    steps = [line.strip().split(":", 1)[0] for line in lines[:-1]]
    assert steps == ["libopus", "audio devices", "loopback", "qt"]
    opus = lines[0].split(": ", 1)[1]
    assert Path(opus).is_file() and "libopus" in opus
    assert " packets, " in lines[2]


def test_self_test_leaves_no_errors_at_interpreter_exit() -> None:
    result = run_app("--self-test")
    assert result.returncode == 0
    # opuslib's __del__ and unclosed transports complain on stderr at teardown.
    for noise in ("Exception ignored", "Traceback", "ResourceWarning", "Task was destroyed"):
        assert noise not in result.stderr, result.stderr


def test_self_test_runs_before_the_ui_is_imported() -> None:
    code = (
        "import sys\n"
        "from app.__main__ import main\n"
        "rc = main(['--self-test'])\n"
        "assert 'app.ui.main' not in sys.modules, 'the self-test imported the UI'\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_verdict_is_written_to_the_log_file_too(tmp_path: Path) -> None:
    log = tmp_path / "selftest.log"
    result = run_app("--self-test", env={"INTERPHONE_SELFTEST_LOG": str(log)})
    assert result.returncode == 0
    assert log.read_text(encoding="utf-8").splitlines() == result.stdout.splitlines()


def test_a_failing_step_gives_a_failed_verdict_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> str:
        raise selftest.SelfTestError("no packets")

    monkeypatch.setattr(selftest, "STEPS", (("opus", lambda: "fine"), ("loopback", broken),
                                            ("never", lambda: "not reached")))
    monkeypatch.delenv("INTERPHONE_SELFTEST_LOG", raising=False)
    assert selftest.main() == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "  opus: fine",
        "  loopback: FAILED: SelfTestError: no packets",
        "self-test: FAILED: loopback: SelfTestError: no packets",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/maps is Linux's")
def test_mapped_library_names_the_loaded_libopus() -> None:
    import opuslib_next.api  # noqa: F401  (loads libopus)

    path = selftest.mapped_library("libopus")
    assert path is not None and Path(path).is_file()
    assert os.path.basename(path).startswith("libopus")
    assert selftest.mapped_library("no-such-library-xyz") is None


@pytest.mark.parametrize(
    ("level", "expected_db"),
    [(0.0, -180.0), (1.0, 0.0), (0.5, -6.02)],
)
def test_rms_db_of_a_constant_signal(level: float, expected_db: float) -> None:
    signal = np.full(960, level, np.float32)
    assert selftest.rms_db(signal) == pytest.approx(expected_db, abs=0.01)


def test_the_qt_step_names_the_apps_translations() -> None:
    result = run_app("--self-test")
    qt = next(line for line in result.stdout.splitlines() if line.strip().startswith("qt:"))
    assert "app translations zh_CN" in qt, result.stdout


def test_a_bundle_without_the_apps_resources_fails_the_qt_step(tmp_path: Path) -> None:
    """A bundle whose resources/ did not come along (the spec's data list) started with
    blank icons and in English only, and its self-test still said ok: the icon was
    checked only if present, the app's translations not at all."""
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    code = (
        "import sys; sys._MEIPASS = sys.argv[1]\n"  # where a bundle keeps its data
        "from app.ui.platform_check import QtPlatformError, check_qt_platform\n"
        "try:\n"
        "    check_qt_platform()\n"
        "except QtPlatformError as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=60)
    assert "refused: the app's icons are missing" in result.stdout, result.stdout + result.stderr
    shutil.copy(ROOT / "resources" / "icons" / "app.svg", tmp_path / "resources" / "icons")
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=60)
    assert "refused: the zh_CN translation" in result.stdout, result.stdout + result.stderr
