"""Settings for the real citygis processes tests start (tests/processes.py) against their database.

gunicorn servers and job workers run as subprocesses with the product's settings, except: the
pytest test database (``CITYGIS_TEST_DATABASE``), an uploads directory and an e-mail backend of
the test's own (tests.orders.permits.mail_backends.RecordingBackend, which can hang mid-send),
fast heartbeats, and stalled jobs looked for every second instead of every minute, so that the
tests take seconds. Redis is the one the tests use (REDIS_URL, inherited).
"""

import os

from gis.settings import *  # noqa: F403
from gis.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["CITYGIS_TEST_DATABASE"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
EMAIL_BACKEND = "tests.orders.permits.mail_backends.RecordingBackend"
MEDIA_ROOT = os.environ["CITYGIS_TEST_MEDIA_ROOT"]
CLAIMS_SWEEP_CRON = "0 0 1 1 *"  # the tests sweep by themselves
REPEATED_PROBLEMS_CRON = "0 0 1 1 *"
CLAIMS_RETRY_STALLED_CRON = "* * * * * */1"  # every second (croniter's sixth field)
CLAIMS_STALLED_AFTER_S = 2
# The test's own accounts are made with a fast hash (tests.orders.permits.test_cluster): a
# password login costs a second of PBKDF2 on a busy test machine.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PROCRASTINATE_WORKER_DEFAULTS = {"update_heartbeat_interval": 0.5, "stalled_worker_timeout": 2}
