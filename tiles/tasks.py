"""The tiles' background job, run by `manage.py worker` (scripts/run.sh).

* ``export_public_tiles`` (periodic, ``PMTILES_CRON``, every 10 minutes by default; no schedule
  when it is empty): writes the public layers to the PMTiles archive the map reads for the
  public (``tiles_export_public``). The queueing lock keeps a second export from queueing while
  one waits; the export's own advisory lock skips one that would run beside another (a second
  worker's, ``manage.py export_public_tiles``). No procrastinate ``lock``: a worker killed
  mid-export would leave its job ``doing``, and such a lock would then hold every later export
  back, while the advisory lock goes with the dead worker's connection.
"""

from __future__ import annotations

from django.conf import settings
from django.db import close_old_connections
from procrastinate.contrib.django import app

from tiles.services import tiles_export_public

QUEUE = "tiles"
EXPORT_PUBLIC_TASK = "tiles.export_public_tiles"


@app.task(name=EXPORT_PUBLIC_TASK, queue=QUEUE, queueing_lock=EXPORT_PUBLIC_TASK)
def export_public_tiles(timestamp: int = 0) -> str:
    close_old_connections()
    try:
        return tiles_export_public().summary()
    finally:
        close_old_connections()


if settings.PMTILES_CRON:
    app.periodic(cron=settings.PMTILES_CRON, periodic_id="tiles_export_public")(export_public_tiles)
