"""manage.py export_public_tiles [--defer]: by hand, what the worker's scheduled export does."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from procrastinate.exceptions import AlreadyEnqueued

from tiles.management.commands import export_tiles
from tiles.services import tiles_export_public


class Command(export_tiles.Command):
    help = (
        "Write the public layers to the PMTiles archive the map reads (PMTILES_PATH, "
        "PMTILES_LAYERS, PMTILES_MINZOOM/MAXZOOM, CITY_BBOX), as the scheduled job does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--defer",
            action="store_true",
            help="queue the scheduled job for the worker now instead (nothing when PMTILES_CRON "
            "is empty)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["defer"]:
            self.stdout.write(self.defer())
            return
        export = self.exporting(lambda progress: tiles_export_public(progress=progress))
        self.stdout.write(export.summary())

    def defer(self) -> str:
        from tiles.tasks import export_public_tiles  # the worker's app: only when deferring

        if not settings.PMTILES_CRON:
            return "export_public_tiles: not scheduled (PMTILES_CRON is empty), nothing deferred"
        try:
            job = export_public_tiles.defer(timestamp=0)
        except AlreadyEnqueued:
            return "export_public_tiles: an export is already queued"
        return f"export_public_tiles: job {job} queued for the worker"
