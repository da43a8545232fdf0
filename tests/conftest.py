"""Suite-wide set-up: Qt renders offscreen, hypothesis keeps CI-sized example counts, ``--slow``
runs the fuzzers long (tests/fuzzing.py)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Helper modules used both as imports and as pytest_plugins: rewrite their asserts.
pytest.register_assert_rewrite("client_fixtures")

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true", default=False,
        help="long fuzz runs: 100,000 examples per decoder (INTERPHONE_FUZZ_EXAMPLES)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: a hypothesis fuzzer sized by tests/fuzzing.py (slow under --slow)")
    # Before collection, so tests/fuzzing.py reads the count at import.
    if config.getoption("--slow"):
        os.environ.setdefault("INTERPHONE_FUZZ_EXAMPLES", "100000")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Long fuzz runs are slow ones: `--slow -m "not slow"` leaves them out.
    if config.getoption("--slow"):
        for item in items:
            if item.get_closest_marker("fuzz") is not None:
                item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _qt_garbage_dies_on_the_main_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test with Qt runs as the app does (app/ui/gui_thread_gc.py): no automatic
    collection while it runs, and one on the main thread at its end. Otherwise a
    collection triggered by an audio or media thread's allocations (the clocked card's,
    the receive thread's) destroys Qt objects left in cycles from that thread, and a
    later timer event of the main thread lands on freed memory (a segfault, in whichever
    later test)."""
    if not {"qapp", "qtbot"} & set(request.fixturenames):
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()
