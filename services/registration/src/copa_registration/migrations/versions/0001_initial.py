"""Registration's tables: applications, capacity counters, payments, relay teams, batches, bans.

Capacity (reg 7.1, 7.6, RULES §3) lives in one counter row per scope (`total`, each distance,
`relay`, the free-slot pool) kept by deferred triggers (see TRIGGERS): paid + live holds never
exceed a limit, whatever the concurrency.
"""

import sqlalchemy as sa
from alembic import op

from copa_runtime.migrations import create_runtime_tables, drop_runtime_tables

revision = "0001"
down_revision = None

LIVE = "('held', 'paid', 'awaiting_qualification', 'listed')"

STATEMENTS = (
    """CREATE TABLE capacity (
        scope text PRIMARY KEY,
        slot_limit integer NOT NULL CHECK (slot_limit >= 0),
        taken integer NOT NULL DEFAULT 0 CHECK (taken >= 0),
        CHECK (taken <= slot_limit)
    )""",
    """CREATE TABLE edition_state (
        edition text PRIMARY KEY,
        competition_date date NOT NULL,
        planned_date date NOT NULL,
        postponed_at timestamptz,
        postponed_by text,
        reason text
    )""",
    "CREATE SEQUENCE registration_seq",
    "CREATE SEQUENCE relay_team_seq",
    """CREATE TABLE applications (
        id uuid PRIMARY KEY,
        registration_number text NOT NULL UNIQUE
            DEFAULT 'R' || lpad(nextval('registration_seq')::text, 6, '0'),
        token_hash text NOT NULL,
        edition text NOT NULL,
        distance text NOT NULL,
        first_name text NOT NULL,
        last_name text NOT NULL,
        gender char(1) NOT NULL,
        birth_date date NOT NULL,
        email text NOT NULL,
        phone text NOT NULL,
        language char(2) NOT NULL,
        city text,
        club text,
        person_key text NOT NULL,
        age_category text,
        fee_kzt integer NOT NULL,
        status text NOT NULL,
        hold_expires_at timestamptz,
        bib integer,
        paid_at timestamptz,
        payment_method text,
        amount_paid_kzt integer NOT NULL DEFAULT 0,
        qualification jsonb,
        qualification_status text,
        qualification_note text,
        corporate_batch_id uuid,
        refusal_reason text,
        refusal_clause text,
        refusal_detail text,
        free_slot_status text,
        free_slot_documents jsonb,
        free_slot_requested_at timestamptz,
        kit_issued_at timestamptz,
        kit_chip text,
        kit_record jsonb,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )""",
    f"""CREATE UNIQUE INDEX applications_one_live_entry
        ON applications (edition, person_key, distance) WHERE status IN {LIVE}""",
    """CREATE INDEX applications_live_holds ON applications (hold_expires_at)
        WHERE status = 'held'""",
    "CREATE UNIQUE INDEX applications_bib ON applications (edition, bib) WHERE bib IS NOT NULL",
    "CREATE INDEX applications_status ON applications (status, distance)",
    "CREATE INDEX applications_last_name ON applications (lower(last_name))",
    "CREATE INDEX applications_batch ON applications (corporate_batch_id)",
    """CREATE TABLE relay_teams (
        id uuid PRIMARY KEY,
        registration_number text NOT NULL UNIQUE
            DEFAULT 'T' || lpad(nextval('relay_team_seq')::text, 6, '0'),
        token_hash text NOT NULL,
        edition text NOT NULL,
        team_name text NOT NULL,
        captain jsonb NOT NULL,
        members jsonb NOT NULL,
        fee_kzt integer NOT NULL,
        status text NOT NULL,
        hold_expires_at timestamptz,
        bib integer,
        paid_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )""",
    """CREATE INDEX relay_teams_live_holds ON relay_teams (hold_expires_at)
        WHERE status = 'held'""",
    """CREATE TABLE distance_changes (
        id uuid PRIMARY KEY,
        application_id uuid NOT NULL REFERENCES applications (id),
        from_distance text NOT NULL,
        to_distance text NOT NULL,
        to_category text NOT NULL,
        change_fee_kzt integer NOT NULL,
        fee_difference_kzt integer NOT NULL,
        status text NOT NULL,
        hold_expires_at timestamptz,
        old_bib integer,
        new_bib integer,
        created_at timestamptz NOT NULL,
        changed_at timestamptz
    )""",
    """CREATE INDEX distance_changes_live_holds ON distance_changes (hold_expires_at)
        WHERE status = 'held'""",
    """CREATE TABLE payments (
        id uuid PRIMARY KEY,
        purpose text NOT NULL,
        application_id uuid REFERENCES applications (id),
        relay_team_id uuid REFERENCES relay_teams (id),
        distance_change_id uuid REFERENCES distance_changes (id),
        amount_kzt integer NOT NULL CHECK (amount_kzt >= 0),
        provider text NOT NULL,
        status text NOT NULL,
        transaction_key text,
        created_at timestamptz NOT NULL,
        paid_at timestamptz
    )""",
    """CREATE TABLE provider_transactions (
        provider text NOT NULL,
        transaction_id text NOT NULL,
        payment_id uuid,
        invoice_id text,
        account_id text,
        amount_kzt integer,
        amount_received text NOT NULL,
        currency text NOT NULL,
        outcome text NOT NULL,
        reason text,
        participant_id uuid,
        relay_team_id uuid,
        registration_number text,
        expected_kzt integer,
        raw jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        resolved_at timestamptz,
        resolved_by text,
        resolution text,
        resolution_note text,
        PRIMARY KEY (provider, transaction_id)
    )""",
    """CREATE INDEX provider_transactions_unresolved ON provider_transactions (received_at)
        WHERE outcome = 'unmatched' AND resolved_at IS NULL""",
    """CREATE TABLE idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status_code integer,
        body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    )""",
    """CREATE TABLE bans (
        id uuid PRIMARY KEY,
        person_key text NOT NULL,
        full_name text NOT NULL,
        from_edition text NOT NULL,
        banned_editions text[] NOT NULL,
        clause text NOT NULL,
        reason text NOT NULL,
        participant_id uuid,
        banned_by text NOT NULL,
        banned_at timestamptz NOT NULL
    )""",
    "CREATE INDEX bans_person ON bans (person_key)",
    """CREATE TABLE corporate_batches (
        id uuid PRIMARY KEY,
        edition text NOT NULL,
        company_name text NOT NULL,
        contact jsonb NOT NULL,
        invoice_total_kzt integer NOT NULL,
        status text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        confirmed_by text,
        confirmed_at timestamptz,
        transfer_reference text,
        amount_received_kzt integer
    )""",
)


# Capacity is kept by the database itself: a deferred constraint trigger on every table whose
# rows take slots adds and removes them AT COMMIT, so the counter row is locked only while the
# commit runs (never across a round trip to the application), and a commit that would exceed a
# limit fails as a whole (reg 7.1, 7.6, RULES §3). Slots are taken by `held` and `paid` rows.
TRIGGERS = (
    """CREATE FUNCTION copa_take(p_scope text, p_delta integer) RETURNS void AS $$
BEGIN
  IF p_delta = 0 OR p_scope IS NULL THEN
    RETURN;
  END IF;
  UPDATE capacity SET taken = taken + p_delta
   WHERE scope = p_scope AND (p_delta < 0 OR taken + p_delta <= slot_limit);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'copa_capacity_full:%', p_scope USING ERRCODE = 'P0001';
  END IF;
END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION applications_capacity() RETURNS trigger AS $$
DECLARE
  was integer := 0;
  now_on integer := 0;
  was_free integer := 0;
  now_free integer := 0;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IN ('held', 'paid') THEN was := 1; END IF;
  IF NEW.status IN ('held', 'paid') THEN now_on := 1; END IF;
  IF TG_OP = 'UPDATE' AND OLD.free_slot_status = 'granted' THEN was_free := 1; END IF;
  IF NEW.free_slot_status = 'granted' THEN now_free := 1; END IF;
  PERFORM copa_take('total', now_on - was);
  IF TG_OP = 'UPDATE' AND OLD.distance <> NEW.distance THEN
    PERFORM copa_take(OLD.distance, -was);
    PERFORM copa_take(NEW.distance, now_on);
  ELSE
    PERFORM copa_take(NEW.distance, now_on - was);
  END IF;
  PERFORM copa_take('free_pool', now_free - was_free);
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE CONSTRAINT TRIGGER applications_capacity AFTER INSERT OR UPDATE ON applications
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION applications_capacity()""",
    """CREATE FUNCTION distance_changes_capacity() RETURNS trigger AS $$
DECLARE
  was integer := 0;
  now_on integer := 0;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status = 'held' THEN was := 1; END IF;
  IF NEW.status = 'held' THEN now_on := 1; END IF;
  PERFORM copa_take(NEW.to_distance, now_on - was);
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE CONSTRAINT TRIGGER distance_changes_capacity AFTER INSERT OR UPDATE
  ON distance_changes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION distance_changes_capacity()""",
    """CREATE FUNCTION relay_teams_capacity() RETURNS trigger AS $$
DECLARE
  was integer := 0;
  now_on integer := 0;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IN ('held', 'paid') THEN was := 1; END IF;
  IF NEW.status IN ('held', 'paid') THEN now_on := 1; END IF;
  PERFORM copa_take('relay', now_on - was);
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE CONSTRAINT TRIGGER relay_teams_capacity AFTER INSERT OR UPDATE ON relay_teams
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION relay_teams_capacity()""",
)


def upgrade() -> None:
    create_runtime_tables()
    for statement in (*STATEMENTS, *TRIGGERS):
        op.execute(sa.text(statement))


def downgrade() -> None:
    for table in (
        "corporate_batches",
        "bans",
        "idempotency_keys",
        "provider_transactions",
        "payments",
        "distance_changes",
        "relay_teams",
        "applications",
        "edition_state",
        "capacity",
    ):
        op.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    op.execute(sa.text("DROP SEQUENCE IF EXISTS registration_seq"))
    op.execute(sa.text("DROP SEQUENCE IF EXISTS relay_team_seq"))
    for function in ("applications_capacity", "distance_changes_capacity", "relay_teams_capacity"):
        op.execute(sa.text(f"DROP FUNCTION IF EXISTS {function}()"))
    op.execute(sa.text("DROP FUNCTION IF EXISTS copa_take(text, integer)"))
    drop_runtime_tables()
