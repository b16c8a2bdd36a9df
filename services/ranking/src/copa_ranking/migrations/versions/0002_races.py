"""Races, reads, starts, photo-finish files, judges' decisions, results, standings, protests."""

from alembic import op

revision = "0002"
down_revision = "0001"

_TABLES = """
CREATE TABLE race_groups (
    edition text NOT NULL,
    distance text NOT NULL,
    gender text NOT NULL,
    category text NOT NULL,
    format jsonb NOT NULL,
    seed text NOT NULL,
    seeding text NOT NULL,
    marks jsonb NOT NULL DEFAULT '{}',
    lots jsonb NOT NULL DEFAULT '[]',
    drawn_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (edition, distance, gender, category)
);
CREATE TABLE races (
    race_id uuid PRIMARY KEY,
    edition text NOT NULL,
    distance text NOT NULL,
    gender text NOT NULL,
    category text NOT NULL,
    round text NOT NULL,
    heat_number int NOT NULL,
    races_in_round int NOT NULL,
    race_number int NOT NULL,
    scheduled_start_at timestamptz NOT NULL,
    start_list jsonb,
    list_revision int NOT NULL DEFAULT 0,
    published boolean NOT NULL DEFAULT false,
    gun_us bigint,
    closed boolean NOT NULL DEFAULT false,
    lines jsonb,
    result_status text NOT NULL DEFAULT 'none',
    result_revision int NOT NULL DEFAULT 0,
    confirmed_by text,
    confirmed_at timestamptz
);
CREATE INDEX races_group ON races (edition, distance, gender, category);
CREATE TABLE race_chips (
    chip text NOT NULL,
    race_id uuid NOT NULL REFERENCES races ON DELETE CASCADE,
    bib int NOT NULL,
    PRIMARY KEY (chip, race_id)
);
CREATE TABLE chip_reads (
    event_id uuid PRIMARY KEY,
    chip text NOT NULL,
    at_us bigint NOT NULL,
    point text NOT NULL,
    device text NOT NULL,
    seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX chip_reads_chip_at ON chip_reads (chip, at_us);
CREATE TABLE start_signals (
    signal_id uuid PRIMARY KEY,
    race_id uuid NOT NULL,
    fired_us bigint NOT NULL,
    source text NOT NULL,
    recalled boolean NOT NULL DEFAULT false,
    received_seq bigserial
);
CREATE INDEX start_signals_race ON start_signals (race_id);
CREATE TABLE photo_finishes (
    race_id uuid PRIMARY KEY,
    file_name text NOT NULL,
    file_sha256 text NOT NULL,
    lines jsonb NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE TABLE decisions (
    decision_id uuid PRIMARY KEY,
    race_id uuid NOT NULL REFERENCES races ON DELETE CASCADE,
    kind text NOT NULL,
    bib int,
    payload jsonb NOT NULL,
    reason text NOT NULL,
    decided_by text NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now(),
    protest_id uuid
);
CREATE INDEX decisions_race ON decisions (race_id, decided_at);
CREATE TABLE result_history (
    race_id uuid NOT NULL,
    revision int NOT NULL,
    event_type text NOT NULL,
    status text NOT NULL,
    lines jsonb NOT NULL,
    reason text,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (race_id, revision)
);
CREATE TABLE standings (
    standings_id text PRIMARY KEY,
    edition text NOT NULL,
    distance text NOT NULL,
    gender text NOT NULL,
    category text,
    status text NOT NULL,
    revision int NOT NULL,
    entries jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE standings_history (
    standings_id text NOT NULL,
    revision int NOT NULL,
    status text NOT NULL,
    entries jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (standings_id, revision)
);
CREATE TABLE judges_exceptions (
    exception_id uuid PRIMARY KEY,
    kind text NOT NULL,
    race_id uuid,
    chip text,
    bib int,
    detail text NOT NULL,
    raised_at timestamptz NOT NULL DEFAULT now(),
    resolution text,
    note text,
    resolved_by text,
    resolved_at timestamptz
);
CREATE TABLE protests (
    protest_id uuid PRIMARY KEY,
    participant_id uuid NOT NULL,
    race_id uuid,
    claim text NOT NULL,
    evidence_url text,
    received_at timestamptz NOT NULL,
    answer_due_at timestamptz NOT NULL,
    decision text,
    answer text,
    answered_by text,
    answered_at timestamptz
);
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    action text NOT NULL,
    actor text NOT NULL,
    detail jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public_changes (
    seq bigserial PRIMARY KEY,
    kind text NOT NULL,
    key text NOT NULL,
    revision int NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE roster ADD COLUMN contact jsonb;
ALTER TABLE roster ADD COLUMN club text;
"""


def upgrade() -> None:
    for statement in _TABLES.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE roster DROP COLUMN contact, DROP COLUMN club")
    op.execute(
        "DROP TABLE public_changes, audit, protests, judges_exceptions, standings_history, "
        "standings, result_history, decisions, photo_finishes, start_signals, chip_reads, "
        "race_chips, races, race_groups"
    )
