"""Settings for a real `manage.py procrastinate worker` run by the crash test against its database.

The same settings as the product, except: the test database, an e-mail backend that can hang
mid-send (tests.orders.permits.mail_backends.RecordingBackend), fast heartbeats, and stalled
jobs looked for every second instead of every minute, so the test takes seconds.
"""

import os

from gis.settings import *  # noqa: F403
from gis.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["CLAIMS_TEST_DATABASE"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
EMAIL_BACKEND = "tests.orders.permits.mail_backends.RecordingBackend"
MEDIA_ROOT = os.environ["CLAIMS_TEST_MEDIA_ROOT"]
CLAIMS_SWEEP_CRON = "0 0 1 1 *"  # the test sweeps by itself
CLAIMS_RETRY_STALLED_CRON = "* * * * * */1"  # every second (croniter's sixth field)
CLAIMS_STALLED_AFTER_S = 2
PROCRASTINATE_WORKER_DEFAULTS = {"update_heartbeat_interval": 0.5, "stalled_worker_timeout": 2}
