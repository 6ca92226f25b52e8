"""The event bus: services publish typed events after commit; the twin, pages and jobs subscribe.

`InProcessBus` fans out through one asyncio queue per subscriber, so a slow subscriber delays
only itself. `RedisBus` (app/bus_redis.py) carries the same events between processes.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None] | None]


@dataclass(eq=False)
class Subscription:
    handler: Handler
    types: tuple[type[Event], ...] | None
    name: str
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def wants(self, event: Event) -> bool:
        return self.types is None or isinstance(event, self.types)


class Bus(ABC):
    """Publish events; subscribe handlers (sync or async) to some or all event types."""

    @abstractmethod
    async def publish(self, event: Event) -> None: ...

    @abstractmethod
    def subscribe(self, handler: Handler, *types: type[Event], name: str = '') -> Subscription: ...

    @abstractmethod
    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections (nothing to do in-process)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close connections and stop delivery tasks."""


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Queue an event for every interested subscriber (never blocks)."""
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.queue.put_nowait(event)

    def subscribe(self, handler: Handler, *types: type[Event], name: str = '') -> Subscription:
        subscription = Subscription(handler, types or None, name or getattr(handler, '__qualname__', 'handler'))
        subscription.task = asyncio.get_running_loop().create_task(self._pump(subscription))
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if subscription.task:
            subscription.task.cancel()

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)

    async def drain(self) -> None:
        """Wait until every subscriber has handled what was published (tests, shutdown)."""
        for subscription in list(self._subscriptions):
            await subscription.queue.join()

    @staticmethod
    async def _pump(subscription: Subscription) -> None:
        while True:
            event = await subscription.queue.get()
            try:
                result = subscription.handler(event)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception('subscriber %s failed on %s %s', subscription.name, event.type_name, event.id)
            finally:
                subscription.queue.task_done()
