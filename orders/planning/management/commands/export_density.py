"""manage.py export_density --kind KIND [--since D] [--until D] [--cell-m 50] OUT.tif."""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gis.exceptions import ApplicationError
from layers.models import NetworkKind
from orders.planning.selectors.breaks import break_query_make
from orders.planning.services import DEFAULT_CELL_M, incidents_density_export


class Command(BaseCommand):
    help = (
        "Count a network kind's incidents (records and network-break appeals) per square cell "
        "into a GeoTIFF in the UTM zone of their centre, and serve it as the raster "
        "density-KIND at /tiles/raster/density-KIND/{z}/{x}/{y}.png."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, metavar="OUT.tif")
        parser.add_argument("--kind", required=True, choices=NetworkKind.values)
        parser.add_argument(
            "--since", type=date.fromisoformat, help="YYYY-MM-DD (default: 3 years before until)"
        )
        parser.add_argument("--until", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--cell-m", type=float, default=DEFAULT_CELL_M, help="cell size in metres (50)"
        )

    def handle(self, *args, **opts) -> None:
        try:
            query = break_query_make(
                kind=opts["kind"],
                since=opts["since"],
                until=opts["until"],
                today=timezone.localdate(),
            )
            result = incidents_density_export(query=query, cell_m=opts["cell_m"], path=opts["out"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(result.summary())
