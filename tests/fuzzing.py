"""The suite's one setting for its hypothesis fuzzers (decoders, framing, the live server's
input paths).

Every fuzz test is decorated with :func:`fuzz`: it runs ``INTERPHONE_FUZZ_EXAMPLES`` examples,
:data:`CI_EXAMPLES` unless told otherwise, so the fuzzers stay a small part of the everyday
suite. ``pytest --slow`` (``bash scripts/dev.sh test --slow``) sets the count to
:data:`LONG_EXAMPLES` and marks these tests ``slow`` (see ``tests/conftest.py``), so a long run
can be selected or left out with ``-m``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar
from unittest import TestCase

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine

CI_EXAMPLES = 200
LONG_EXAMPLES = 100_000
EXAMPLES = int(os.environ.get("INTERPHONE_FUZZ_EXAMPLES", str(CI_EXAMPLES)))

F = TypeVar("F", bound=Callable[..., Any])

_settings = settings(max_examples=EXAMPLES, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])


def fuzz(test: F) -> F:
    """Fuzz-test settings (put above ``@given``) and the ``fuzz`` mark."""
    marked: F = pytest.mark.fuzz(_settings(test))
    return marked


MACHINE_STEPS = 60
"""Steps per example of a stateful (model-based) test."""
MACHINE_EXAMPLES = max(1, EXAMPLES // 2)
"""Examples of a stateful test: half the fuzzers' count (each is up to
:data:`MACHINE_STEPS` steps): 100 in CI, 50,000 under ``--slow``."""


def fuzz_machine(machine: type[RuleBasedStateMachine]) -> type[TestCase]:
    """The test case of a hypothesis ``RuleBasedStateMachine`` with the ``fuzz`` mark, run
    :data:`MACHINE_EXAMPLES` examples; a long run is not cut by the suite's timeout."""
    case = machine.TestCase
    case.settings = settings(_settings, max_examples=MACHINE_EXAMPLES,
                             stateful_step_count=MACHINE_STEPS)
    marked: type[TestCase] = pytest.mark.fuzz(case)
    if EXAMPLES > CI_EXAMPLES:
        marked = pytest.mark.timeout(0)(marked)
    return marked
