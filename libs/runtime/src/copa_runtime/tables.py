"""The runtime's own tables, present in every service's database.

``outbox`` holds events written in the same transaction as the change that caused them;
``processed_events`` is the consumers' tracking record (consumer, event id) whose primary key
makes a redelivered event a no-op (pyeventsourcing's tracking record).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    text,
)

runtime_metadata = MetaData()

outbox = Table(
    "outbox",
    runtime_metadata,
    # Commit order is publication order: the identity gives each row its place.
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index("outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

processed_events = Table(
    "processed_events",
    runtime_metadata,
    Column("consumer", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("topic", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
)

# A statement-level trigger wakes the relay at commit (NOTIFY is delivered on commit only,
# so a rolled-back change never wakes it, and a 1,000-row insert sends one notification).
OUTBOX_NOTIFY_CHANNEL = "copa_outbox"
CREATE_NOTIFY_TRIGGER = (
    f"""CREATE OR REPLACE FUNCTION copa_outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('{OUTBOX_NOTIFY_CHANNEL}', '');
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION copa_outbox_notify()""",
)
DROP_NOTIFY_TRIGGER = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "DROP FUNCTION IF EXISTS copa_outbox_notify()",
)
