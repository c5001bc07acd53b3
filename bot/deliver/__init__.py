"""The deliver stage: alerts leave the outbox through a ``Sink`` (console, Discord, webhook).

A sink only sends; it never touches the store. The worker (``bot.deliver.worker``) takes pending alerts from
the store, hands each to the sink and records what the sink reports — sent (with the message id), retry
later, or failed for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.summarise import Alert


@dataclass(frozen=True, slots=True)
class Target:
    """Where an alert goes: a channel id, or a webhook URL (a secret: never log it)."""

    channel: str | None = None
    webhook: str | None = None
    username: str | None = None
    avatar: str | None = None

    @property
    def key(self) -> str:
        """A stable, loggable name: ``channel:<id>`` or ``webhook:<id>`` (the token is never included)."""
        if self.webhook:
            parts = self.webhook.rstrip("/").split("/")
            return f"webhook:{parts[-2] if len(parts) >= 2 else '?'}"
        return f"channel:{self.channel}"


@dataclass(frozen=True, slots=True)
class OutboxAlert:
    id: int
    target: Target
    alert: Alert
    attempts: int = 0
    created_at: float = 0.0


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
