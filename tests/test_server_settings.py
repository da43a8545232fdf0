"""One validation rule for every server setting, shared by ServerSettings and the TOML loader."""

from __future__ import annotations

import math

import pytest

from app.server import ServerSettings
from app.server.settings import setting_problem


@pytest.mark.parametrize(("name", "value", "ok"), [
    ("auth", "open", True),
    ("auth", "tokens", False),
    ("max_talk", 60, True),
    ("max_talk", 0.5, True),
    ("max_talk", 0, False),
    ("max_talk", -1, False),
    ("max_talk", True, False),
    ("max_talk", math.inf, False),
    ("max_talk", math.nan, False),
    ("max_talk", "60", False),
    ("rate_limit", 50.0, True),
    ("rate_burst", 100, True),
    ("rate_burst", 1.5, False),
    ("rate_burst", True, False),
    ("max_malformed", 0, False),
])
def test_one_rule_for_each_setting(name: str, value: object, ok: bool) -> None:
    problem = setting_problem(name, value)
    assert (problem is None) == ok
    if ok:
        ServerSettings(**{name: value})
    else:
        assert problem.startswith(f"{name} must be")
        with pytest.raises(ValueError, match=f"^{name} must be"):
            ServerSettings(**{name: value})
