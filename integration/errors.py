"""Errors of the integration package: webhook subscriptions and the code notifier."""

from __future__ import annotations

from errors import SignroomError


class IntegrationError(SignroomError):
    code = "integration_error"


class SubscriptionInvalid(IntegrationError):
    """The subscription asked for cannot be made (URL, events)."""

    code = "validation_failed"


class SubscriptionNotFound(IntegrationError):
    code = "not_found"


class DeliveryFailed(IntegrationError):
    """The gateway did not take the signing code; the applicant may ask again."""

    code = "delivery_failed"
