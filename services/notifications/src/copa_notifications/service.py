"""Notifications' composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.NOTIFICATIONS,
    title="Copa Run notifications",
    summary="E-mail to every participant about what concerns them, once, in their language.",
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=(
        # Subscribed and tracked; no handler sends anything yet (issue 7).
        Subscription(
            name="mail",
            topics=tuple(t for t in topics.ALL_TOPICS if t.producer != topics.NOTIFICATIONS),
        ),
    ),
    produces=(topics.DELIVERIES,),
    missing=(
        "No e-mail is sent yet: templates, SMTP delivery, the delivery log, previews, resend "
        "and announcements (issue 7). The consumer records what it reads; the `deliveries` "
        "table exists.",
    ),
)
