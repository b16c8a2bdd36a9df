"""Events of the `notifications` service: what became of each e-mail.

A delivery is one e-mail caused by one event (``trigger_event_id``). Its outcomes are keyed by
``delivery_id`` so that "failed, will retry" always precedes "sent" or "gave up". The address is
not repeated here: whoever needs to act on a bounce looks the person up by ``participant_id``
(RULES §10: the e-mail travels only where it must).
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from copa_contracts.common import UtcDatetime
from copa_contracts.envelope import Event

TemplateName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", min_length=1, max_length=64)
]


class DeliveryEvent(Event):
    """Fields every delivery event carries (not an event itself)."""

    delivery_id: uuid.UUID = Field(description="Id of the e-mail; the partition key.")
    template: TemplateName = Field(description="Which e-mail it is, e.g. `participant.paid`.")
    trigger_event_id: uuid.UUID | None = Field(
        description="Event that caused the e-mail; none for one an organizer sent by hand."
    )
    trigger_event_type: str | None = Field(
        max_length=64, description="Type of that event, e.g. `participant.paid`."
    )
    participant_id: uuid.UUID | None = Field(
        description="Participant written to, when the recipient is one."
    )
    attempt: int = Field(ge=1, description="Attempt number this outcome belongs to, 1 first.")


class DeliverySent(DeliveryEvent):
    """The SMTP server accepted the e-mail."""

    event_type: ClassVar[str] = "delivery.sent"

    sent_at: UtcDatetime = Field(description="When the server accepted it.")
    smtp_message_id: str | None = Field(
        max_length=998, description="`Message-ID` header, to trace it in the mail logs."
    )


class DeliveryFailed(DeliveryEvent):
    """An attempt failed with a transient error; another attempt is scheduled."""

    event_type: ClassVar[str] = "delivery.failed"

    failed_at: UtcDatetime = Field(description="When the attempt failed.")
    error: str = Field(max_length=2000, description="What the server or the client said.")
    next_attempt_at: UtcDatetime = Field(description="When the next attempt is due.")


class DeliveryGaveUp(DeliveryEvent):
    """No more attempts: a permanent error or too many transient ones. An organizer must act."""

    event_type: ClassVar[str] = "delivery.gave-up"

    gave_up_at: UtcDatetime = Field(description="When it was given up.")
    error: str = Field(max_length=2000, description="Last error.")


DELIVERY_EVENTS: tuple[type[Event], ...] = (DeliverySent, DeliveryFailed, DeliveryGaveUp)

__all__ = [
    "DELIVERY_EVENTS",
    "DeliveryEvent",
    "DeliveryFailed",
    "DeliveryGaveUp",
    "DeliverySent",
]
