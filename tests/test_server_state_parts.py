"""ServerState is assembled from mixins (one per rule family): none of the placeholder
methods a mixin declares for the type checker may hide the real rule at run time."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from app.server.state import ServerState


def _is_placeholder(function: object) -> bool:
    """A body that only raises NotImplementedError or is ``...`` (after any docstring)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef)
    body = definition.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1:
        return False
    statement = body[0]
    if isinstance(statement, ast.Raise):
        raised = statement.exc
        name = raised.func if isinstance(raised, ast.Call) else raised
        return isinstance(name, ast.Name) and name.id == "NotImplementedError"
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and statement.value.value is Ellipsis


METHODS = sorted(
    name for name in dir(ServerState)
    if inspect.isfunction(inspect.getattr_static(ServerState, name))
    or isinstance(inspect.getattr_static(ServerState, name), staticmethod)
)


def test_the_scan_sees_the_rules():
    assert {"receive_data", "login", "join", "speak", "_notify", "_grant",
            "accept_audio", "handle_timer"} <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_no_placeholder_hides_a_rule(name):
    assert not _is_placeholder(getattr(ServerState, name)), (
        f"ServerState.{name} resolves to a placeholder: put the mixin that implements it "
        f"before the one that declares it in ServerState's bases")


def test_the_detector_finds_a_placeholder():
    class Placeholders:
        def declared(self) -> int:
            raise NotImplementedError

        def documented(self) -> None:
            """Said elsewhere."""
            raise NotImplementedError()

        def real(self) -> int:
            return 1

    assert _is_placeholder(Placeholders.declared)
    assert _is_placeholder(Placeholders.documented)
    assert not _is_placeholder(Placeholders.real)
