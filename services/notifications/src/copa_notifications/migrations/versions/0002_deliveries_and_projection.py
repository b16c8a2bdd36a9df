"""Rendered deliveries with their retry state; the projection of participants and what each
was last told."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    for column in (
        sa.Column("delivery_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, server_default="event"),
        sa.Column("trigger_event_type", sa.String(64), nullable=True),
        sa.Column("participant_id", sa.Uuid, nullable=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("smtp_message_id", sa.String(998), nullable=True),
        sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("deliveries", column)
    # One message per (event, recipient, template): the delivery id is derived from those three
    # (the recipient is the participant when there is one, so two runners sharing one address
    # each get their own start list), and it is the unique key inserts skip on.
    op.drop_constraint("deliveries_event_id_recipient_template_key", "deliveries")
    op.create_unique_constraint("deliveries_delivery_id_key", "deliveries", ["delivery_id"])
    # The sender's queue: what is due, oldest first.
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("deliveries_created", "deliveries", ["created_at"])
    op.create_index("deliveries_participant", "deliveries", ["participant_id"])

    op.create_table(
        "recipients",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("edition", sa.String(32), nullable=False),
        sa.Column("registration_number", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("distance", sa.String(32), nullable=True),
        sa.Column("gender", sa.String(1), nullable=True),
        sa.Column("age_category", sa.String(32), nullable=True),
        sa.Column("bib", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("recipients_audience", "recipients", ["edition", "status", "distance"])
    op.create_table(
        "relay_captains",
        sa.Column("relay_team_id", sa.Uuid, primary_key=True),
        sa.Column("edition", sa.String(32), nullable=False),
        sa.Column("team_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("bib", sa.Integer, nullable=False),
    )
    op.create_table(
        "start_notices",
        # A participant's id, or a relay team's for its captain.
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("race_id", sa.Uuid, primary_key=True),
        sa.Column("race_number", sa.Integer, nullable=False),
        sa.Column("heat_number", sa.Integer, nullable=False),
        sa.Column("lane", sa.Integer, nullable=True),
        sa.Column("scheduled_start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_table(
        "result_notices",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("race_id", sa.Uuid, primary_key=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
    )
    op.create_table(
        "standings_places",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("standings_id", sa.String(128), nullable=False),
        sa.Column("place", sa.Integer, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_table(
        "team_notices",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("classification", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(200), nullable=False),
    )
    op.create_table(
        "edition_dates",
        sa.Column("edition", sa.String(32), primary_key=True),
        sa.Column("competition_date", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("edition_dates", "team_notices", "standings_places", "result_notices"):
        op.drop_table(table)
    op.drop_table("start_notices")
    op.drop_table("relay_captains")
    op.drop_table("recipients")
    op.drop_index("deliveries_participant", "deliveries")
    op.drop_index("deliveries_created", "deliveries")
    op.drop_index("deliveries_due", "deliveries")
    op.drop_constraint("deliveries_delivery_id_key", "deliveries")
    op.create_unique_constraint(
        "deliveries_event_id_recipient_template_key",
        "deliveries",
        ["event_id", "recipient", "template"],
    )
    for name in (
        "gave_up_at",
        "smtp_message_id",
        "last_error",
        "next_attempt_at",
        "body_html",
        "body_text",
        "subject",
        "participant_id",
        "trigger_event_type",
        "kind",
        "delivery_id",
    ):
        op.drop_column("deliveries", name)
