"""The appeals' background jobs, run by `manage.py worker` (scripts/run.sh).

* ``telegram_reply``: tells a Telegram sender the number of the appeal a moderator made of
  their message (deferred by ``intake_accept`` in its transaction). Telegram unreachable or
  busy (429, 5xx): retried; a refusal retrying cannot cure is recorded on the message.
"""

from __future__ import annotations

from django.db import close_old_connections
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from orders.appeals.services.intake import REPLIES_QUEUE, TELEGRAM_REPLY_TASK, intake_reply_send

# About an hour of attempts (1, 3, 5 … 15 minutes apart): a reply later than that is stale.
REPLY_RETRY = RetryStrategy(max_attempts=8, wait=60, linear_wait=120)


@app.task(name=TELEGRAM_REPLY_TASK, queue=REPLIES_QUEUE, retry=REPLY_RETRY)
def telegram_reply(intake_id: int) -> str:
    # Worker threads outlive requests: drop connections that are broken or past CONN_MAX_AGE.
    close_old_connections()
    try:
        return intake_reply_send(intake_id=intake_id)
    finally:
        close_old_connections()
