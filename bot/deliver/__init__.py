"""The deliver stage: alerts leave the outbox through a ``Sink`` (console, Discord, webhook).

A sink only sends; it never touches the store. The worker (``bot.deliver.worker``) takes pending alerts from
the store, hands each to the sink and records what the sink reports — sent (with the message id), retry
later, or failed for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bot.model import OutboxAlert, Target

__all__ = ["DeliveryResult", "DigestSink", "OutboxAlert", "Sink", "Target"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: Literal["sent", "retry", "failed"]
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, message_id: str | None = None) -> DeliveryResult:
        return cls("sent", message_id=message_id)

    @classmethod
    def retry(cls, error: str, after: float | None = None) -> DeliveryResult:
        return cls("retry", error=error, retry_after=after)

    @classmethod
    def failed(cls, error: str) -> DeliveryResult:
        return cls("failed", error=error)


class Sink(Protocol):
    """Sends alerts somewhere. ``send`` never raises for delivery problems: it reports them."""

    name: str

    async def send(self, item: OutboxAlert) -> DeliveryResult: ...

    async def notify_admin(self, text: str) -> None: ...


@runtime_checkable
class DigestSink(Protocol):
    """A sink that can collapse a burst: one message for several alerts of one target."""

    def collapses(self, target: Target) -> bool:
        """Whether bursts to ``target`` become digests; when not, its alerts are sent one by one, never
        held (the terminal, say, has no flood to spare a reader)."""
        ...

    async def send_digest(self, items: Sequence[OutboxAlert]) -> tuple[DeliveryResult, int]:
        """Send one message listing the first of ``items`` (all the same target, in order); returns the
        result and how many of ``items`` (from the start, ≥ 1) that message covers."""
        ...
