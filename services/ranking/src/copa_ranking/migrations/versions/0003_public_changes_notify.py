"""Public pages are dropped from every API process's cache when a change commits."""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION ranking_public_changed() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('ranking_public_changes', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER public_changes_notify AFTER INSERT ON public_changes "
        "FOR EACH STATEMENT EXECUTE FUNCTION ranking_public_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER public_changes_notify ON public_changes")
    op.execute("DROP FUNCTION ranking_public_changed()")
