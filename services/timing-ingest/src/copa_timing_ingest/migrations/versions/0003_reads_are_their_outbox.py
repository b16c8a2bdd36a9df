"""The reads table is the reads' own outbox: published in commit order behind a cursor.

Each read row records the transaction that stored it (``txid``); the publisher sends rows in
(txid, id) order up to the oldest transaction still running, and keeps its place in
``reads_publication``. No outbox row per read and no update per published read: a read costs
one insert (docs/benchmarks.md, timing ingest).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

NOTIFY_CHANNEL = "copa_reads"


def upgrade() -> None:
    op.add_column(
        "reads",
        sa.Column(
            "txid",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
        ),
    )
    op.create_index("reads_publication_order", "reads", ["txid", "id"])
    op.create_table(
        "reads_publication",
        sa.Column("stream", sa.String(32), primary_key=True),
        sa.Column("txid", sa.BigInteger, nullable=False),
        sa.Column("read_id", sa.BigInteger, nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Reads stored before this revision went out through the outbox: start after them.
    op.execute(
        "INSERT INTO reads_publication (stream, txid, read_id) "
        "SELECT 'bus', coalesce(max(txid), 0), coalesce(max(id), 0) FROM reads"
    )
    # One notification per insert statement, delivered at commit (as the outbox's).
    op.execute(
        f"""CREATE OR REPLACE FUNCTION copa_reads_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
  RETURN NULL;
END $$ LANGUAGE plpgsql"""
    )
    op.execute(
        "CREATE TRIGGER reads_notify AFTER INSERT ON reads "
        "FOR EACH STATEMENT EXECUTE FUNCTION copa_reads_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS reads_notify ON reads")
    op.execute("DROP FUNCTION IF EXISTS copa_reads_notify()")
    op.drop_table("reads_publication")
    op.drop_index("reads_publication_order", table_name="reads")
    op.drop_column("reads", "txid")
