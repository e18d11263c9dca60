"""manage.py import_osm FILE.osm.pbf|FILE.osm [--bbox w,s,e,n] [--strict]."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis.spatial import parse_bbox
from importers.commands import ImportCommandMixin
from importers.services import osm_import


class Command(ImportCommandMixin, BaseCommand):
    help = "Import an OpenStreetMap extract into every layer (see importers/osm_mapping.py)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--bbox", help="west,south,east,north: import only what intersects")
        parser.add_argument("--source", default="osm", help="source name rows are keyed under")
        self.add_common_arguments(parser, lenient=True)

    def handle(self, *args, **opts):
        try:
            bbox = parse_bbox(opts["bbox"]) if opts["bbox"] else None
        except ValueError as exc:
            raise CommandError(f"--bbox {exc}") from exc
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        with self.progress_bar(desc=f"reading {path.name}", unit=" objects") as bar:
            report = self.run_import(
                lambda: osm_import(
                    path=path,
                    bbox=bbox,
                    strict=opts["strict"],
                    source=opts["source"],
                    progress=bar.update,
                ),
                what="import_osm",
                report_file=opts["report"],
            )
        return None if report is None else ""
