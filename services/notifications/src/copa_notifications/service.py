"""Notifications' composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_notifications.api import router
from copa_notifications.handlers import HANDLERS
from copa_notifications.reminders import run_kit_reminders
from copa_notifications.sender import run_sender
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.NOTIFICATIONS,
    title="Copa Run notifications",
    summary="E-mail to every participant about what concerns them, once, in their language "
    "(ru, kk, en): recorded with the event that caused it, sent by SMTP at a bounded rate, "
    "retried with backoff; a delivery log, previews, resend and announcements for organizers.",
    migrations_dir=Path(__file__).parent / "migrations",
    routers=(router,),
    subscriptions=(
        # Only the topics whose events concern someone: chip reads, starts and photo-finish
        # files (thousands a second on race day) would cost a tracking row each for nothing.
        Subscription(
            name="mail",
            topics=tuple(t for t in topics.ALL_TOPICS if set(t.events) & set(HANDLERS)),
            handlers=HANDLERS,
        ),
    ),
    produces=(topics.DELIVERIES,),
    workers=(run_sender, run_kit_reminders),
    missing=(
        "A result e-mail shows the place in category and among men / women only when ranking's "
        "standings for the group arrived before the result (they travel on another topic); "
        "no follow-up e-mail is sent when they arrive later.",
        "Only `q` (qualified by time) is shown: the results contract has no `Q` (qualified by "
        "place) flag.",
    ),
)
