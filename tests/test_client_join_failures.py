"""A join that does not succeed (``ClientCore._join_on``): refused, failed or cancelled,
the model is told once that it was abandoned (its pending join forgotten), and a 403
also drops the roster group we may no longer see."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from app.client import ConnectionLost, InterphoneClient, NotAllowed, NotFound
from app.client.model import ClientModel
from app.protocol import InterphoneId
from app.protocol.messages import Body, JoinRequest

G58 = InterphoneId.group("58")


class _Conn:
    """A connection whose ``join`` request ends as ``outcome`` says."""

    def __init__(self, outcome: Callable[[], Any]) -> None:
        self.outcome = outcome
        self.asked: list[Body] = []

    async def request(self, body: Body) -> Body:
        self.asked.append(body)
        return await self.outcome()


class _CountingModel(ClientModel):
    def __init__(self, uid: str) -> None:
        super().__init__(uid)
        self.abandoned: list[InterphoneId] = []
        self.forgotten: list[InterphoneId] = []

    def join_abandoned(self, interphone: InterphoneId) -> None:
        self.abandoned.append(interphone)
        super().join_abandoned(interphone)

    def forget_unavailable(self, interphone: InterphoneId) -> None:
        self.forgotten.append(interphone)
        super().forget_unavailable(interphone)


def _client() -> tuple[InterphoneClient, _CountingModel]:
    client = InterphoneClient("127.0.0.1", 1, "alice", "tok", reconnect=False)
    model = _CountingModel("alice")
    client.model = model
    return client, model


def _raises(exc: BaseException) -> Callable[[], Any]:
    async def outcome() -> Body:
        raise exc
    return outcome


@pytest.mark.parametrize(("exc", "forgotten"), [
    (NotAllowed(403, "forbidden", request="join"), [G58]),
    (NotFound(404, "no such group", request="join"), []),
    (ConnectionLost("gone"), []),
], ids=["refused-403", "refused-404", "connection-lost"])
async def test_a_failed_join_is_abandoned_once(exc: BaseException,
                                               forgotten: list[InterphoneId]) -> None:
    client, model = _client()
    conn = _Conn(_raises(exc))
    with pytest.raises(type(exc)):
        await client._join_on(conn, G58)  # type: ignore[arg-type]
    assert conn.asked == [JoinRequest(G58, "alice")]
    assert model.abandoned == [G58]
    assert model.forgotten == forgotten
    assert G58 not in model._joining


async def test_a_cancelled_join_is_abandoned_once() -> None:
    client, model = _client()
    asked = asyncio.Event()

    async def never() -> Body:
        asked.set()
        await asyncio.Event().wait()
        raise AssertionError("not reached")

    task = asyncio.create_task(client._join_on(_Conn(never), G58))  # type: ignore[arg-type]
    await asked.wait()
    assert G58 in model._joining  # the join is pending while its request is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.abandoned == [G58]
    assert model.forgotten == []
    assert G58 not in model._joining
