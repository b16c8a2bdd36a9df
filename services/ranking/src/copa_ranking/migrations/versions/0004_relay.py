"""The medley relay (RULES §8): its teams, and which leg each chip of a race runs."""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE relay_teams ("
        " relay_team_id uuid PRIMARY KEY,"
        " edition text NOT NULL,"
        " bib int NOT NULL UNIQUE,"
        " team_name text NOT NULL,"
        " members jsonb NOT NULL,"
        " chips jsonb NOT NULL DEFAULT '{}',"
        " contact jsonb NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute("ALTER TABLE race_chips ADD COLUMN leg int")
    op.execute("ALTER TABLE race_chips ADD COLUMN finishes boolean NOT NULL DEFAULT true")


def downgrade() -> None:
    op.execute("ALTER TABLE race_chips DROP COLUMN finishes, DROP COLUMN leg")
    op.execute("DROP TABLE relay_teams")
