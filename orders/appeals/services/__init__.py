"""Writing appeals, one module a concern; reads are in ``orders.appeals.selectors``.

* ``registration``: a new appeal, numbered, located, linked, routed and timed; the categories;
* ``linking``: the link to the nearest object (one appeal, or an import's in bulk) and an
  operator's correction;
* ``transitions``: the lifecycle's moves, with the call-back task and the resident's link;
* ``callbacks``: an operator's call and its outcome;
* ``intake``: messages from outside queued for moderation, Telegram's reply, integration keys;
* ``reports``: the weekly department reports;
* ``history``: the history row all of them write.

Every service runs in one transaction, locks the appeal it moves (``select_for_update``) and
writes a history row for every change: who (a user, or "resident", "system", "import"), when,
from → to, and why.
"""
