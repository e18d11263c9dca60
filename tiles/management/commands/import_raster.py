"""manage.py import_raster NAME FILE.tif."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis.exceptions import ApplicationError
from tiles.services import raster_import


class Command(BaseCommand):
    help = (
        "Import a GeoTIFF (with a CRS; 1 band or RGB) as raster NAME, served as PNG tiles at "
        "/tiles/raster/NAME/{z}/{x}/{y}.png. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="slug the tiles are served under")
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            result = raster_import(name=opts["name"], path=opts["file"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(result.summary())
