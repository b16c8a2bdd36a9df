"""Registration's tables are created by `migrations/versions/0001_initial.py` (plain SQL, one
place) and read with SQL in the service functions; this module names the states they hold.

* ``applications.status``: ``held`` (slot held until ``hold_expires_at``), ``paid`` (a
  participant with a BIB, reg 7.3), ``expired`` (hold ran out, RULES §3), ``refused`` (with
  reason and clause), ``awaiting_qualification`` (3000 m, evidence with an organizer, reg 4.2.3),
  ``listed`` (on a corporate list awaiting the bank transfer, reg 7.2).
* ``capacity``: one row per scope (``total``, each distance, ``relay``, ``free_pool``) with
  ``paid`` and ``held`` slots and the next BIB (RULES §3: issued in order, never reused).
* ``provider_transactions``: every provider payment once (primary key provider + transaction
  id); ``outcome`` ``applied``, ``unmatched`` (for an organizer) or ``ignored``.
"""

APPLICATION_STATES = ("held", "paid", "expired", "refused", "awaiting_qualification", "listed")
LIVE_STATES = ("held", "paid", "awaiting_qualification", "listed")
