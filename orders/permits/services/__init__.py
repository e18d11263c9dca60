"""Writes on permits and claims, one module a concern; reads are in ``orders.permits.selectors``.

* ``actions``: who may do what from which status, the permit's lock and its history row;
* ``issuing``: issuing a permit and changing it, with the work area and the dig-conflict check;
* ``lifecycle``: start, extensions, the restoration act, close and cancel;
* ``sweep``: the overrun sweep that makes the claims, and their redelivery;
* ``sending``: sending one claim.

Every write runs in ``transaction.atomic``, locks the permit row it changes (``FOR UPDATE``) and
records a ``PermitHistory`` row. A contractor reaches only its own permits (the registry's
``queryset_for``), so another contractor's permit is a 404 here as everywhere.

Claims are exactly once by construction, not by care:

* the sweep is one statement: it locks the overrun permits it will claim (``FOR UPDATE SKIP
  LOCKED``: a permit being closed right now is skipped, and the close, once committed, wins),
  inserts the missing (permit, deadline, recipient kind) claims with ``ON CONFLICT DO NOTHING``
  on the unique constraint, and defers send jobs for exactly the *inserted* rows (``SEND_BATCH``
  claims a job) through procrastinate's own SQL function, all in the caller's transaction: the
  claim rows and their jobs commit or roll back together, and two sweeps racing cannot both
  insert a claim, so cannot both defer it;
* sending locks the claim row, skips a claim already sent, and marks it sent in the same
  transaction that sent it (see ``sending.claim_send`` for the one window that remains).
"""
