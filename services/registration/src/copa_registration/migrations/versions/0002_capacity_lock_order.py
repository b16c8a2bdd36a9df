"""Capacity counters locked in one order: the `total` row first (RULES §3).

The deferred capacity triggers (0001) lock each counter row they change, in the order the
rows changed. A paid change of distance (reg 7.6) releases the old distance's slot and takes
the new one's, and leaves `total` as it is: two runners moving in opposite directions locked
the two distance rows in opposite orders, and PostgreSQL aborted one of the commits as a
deadlock. Now every change of a counter first locks `total`: the first counter a transaction
locks is always `total`, so no two transactions can each hold a row the other waits for. The
commits that take or release slots are serialized on `total`, as the applications and
payments already were (each of them changes it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_BODY = """CREATE OR REPLACE FUNCTION copa_take(p_scope text, p_delta integer) RETURNS void AS $$
BEGIN
  IF p_delta = 0 OR p_scope IS NULL THEN
    RETURN;
  END IF;{lock}
  UPDATE capacity SET taken = taken + p_delta
   WHERE scope = p_scope AND (p_delta < 0 OR taken + p_delta <= slot_limit);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'copa_capacity_full:%', p_scope USING ERRCODE = 'P0001';
  END IF;
END $$ LANGUAGE plpgsql"""

_LOCK_TOTAL_FIRST = """
  -- One lock order for every counter: `total` first (held to the commit, taken once).
  PERFORM 1 FROM capacity WHERE scope = 'total' FOR UPDATE;"""


def upgrade() -> None:
    op.execute(sa.text(_BODY.format(lock=_LOCK_TOTAL_FIRST)))


def downgrade() -> None:
    op.execute(sa.text(_BODY.format(lock="")))
