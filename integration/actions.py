"""The audit actions of webhook subscriptions."""

from enum import StrEnum


class IntegrationAction(StrEnum):
    WEBHOOK_SUBSCRIBED = "webhook.subscribed"
    WEBHOOK_DISABLED = "webhook.disabled"
