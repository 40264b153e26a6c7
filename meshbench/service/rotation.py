"""Connection churn for service-to-service calls over HTTP/2 and gRPC: a client (one
connection) is used for ``every`` calls, then replaced; the old one is closed once its
last call has finished. ``every=0`` keeps one client for the service's life (keep-alive).

(HTTP/1.1 calls churn by asking for ``Connection: close`` instead; see ``http1``.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass
class _Slot(Generic[C]):
    client: C
    used: int = 0
    in_use: int = 0
    retired: bool = False


class Rotating(Generic[C]):
    """A client replaced after every ``every`` uses (0: never)."""

    def __init__(
        self, make: Callable[[], C], close: Callable[[C], Awaitable[None]], every: int
    ) -> None:
        if every < 0:
            raise ValueError(f"requests per connection must be >= 0; got {every}")
        self._make = make
        self._close = close
        self._every = every
        self._slot: _Slot[C] | None = None
        self.opened = 0
        """Clients (connections) made so far."""

    def _take(self) -> _Slot[C]:
        slot = self._slot
        if slot is None or (self._every and slot.used >= self._every):
            if slot is not None:
                slot.retired = True
            slot = self._slot = _Slot(self._make())
            self.opened += 1
        slot.used += 1
        slot.in_use += 1
        return slot

    @asynccontextmanager
    async def use(self) -> AsyncIterator[C]:
        """The client for one call; a retired client is closed after its last call."""
        slot = self._take()
        try:
            yield slot.client
        finally:
            slot.in_use -= 1
            if slot.retired and slot.in_use == 0:
                await self._close(slot.client)

    async def aclose(self) -> None:
        if self._slot is not None:
            await self._close(self._slot.client)
            self._slot = None
