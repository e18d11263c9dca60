"""manage.py export_tiles OUT.pmtiles --layers a,b --minzoom N --maxzoom N [--bbox W,S,E,N]."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis.exceptions import ApplicationError
from gis.spatial import MAX_ZOOM, parse_bbox
from importers.commands import ImportCommandMixin
from tiles.services import ExportProgress, tiles_export_pmtiles

T = TypeVar("T")


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Write public vector tiles of some layers to a PMTiles v3 archive (gzipped MVT), "
        "tile for tile what /tiles/… serves the public."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="the .pmtiles file to write (replaced)")
        parser.add_argument("--layers", required=True, help="comma list, e.g. buildings,streets")
        parser.add_argument("--minzoom", type=int, required=True)
        parser.add_argument("--maxzoom", type=int, required=True, help=f"at most {MAX_ZOOM}")
        parser.add_argument(
            "--bbox",
            help="west,south,east,north in degrees (default: the extent of the layers' data); "
            "west of Greenwich write --bbox=-76.6,…",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            bbox = parse_bbox(opts["bbox"]) if opts["bbox"] else None
        except ValueError as exc:
            raise CommandError(f"--bbox {exc}") from exc
        layers = [name.strip() for name in opts["layers"].split(",") if name.strip()]
        export = self.exporting(
            lambda progress: tiles_export_pmtiles(
                path=opts["out"],
                layers=layers,
                minzoom=opts["minzoom"],
                maxzoom=opts["maxzoom"],
                bbox=bbox,
                progress=progress,
            )
        )
        self.stdout.write(export.summary())

    def exporting(self, export: Callable[[ExportProgress], T]) -> T:
        """Run an export with a progress bar of its tiles; its errors as usage errors."""
        with self.progress_bar(desc="tiles", unit=" tiles") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                return export(progress)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
