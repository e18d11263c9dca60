"""manage.py import_layer LAYER FILE [--srid N] [--map field=column …] [--dayfirst]."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from importers.commands import ImportCommandMixin
from importers.services import layer_import
from layers.registry import LAYERS, importable_layers


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise CommandError(f"--map takes field=column, got {pair!r}")
        mapping[field.strip()] = column.strip()
    return mapping


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Import a GeoJSON, GeoPackage, Shapefile or CSV (WKT or lon/lat columns) into one layer, "
        "reprojected to EPSG:4326."
    )

    def add_arguments(self, parser):
        parser.add_argument("layer", help=f"one of: {', '.join(importable_layers())}")
        parser.add_argument("file", type=Path)
        parser.add_argument("--srid", type=int, help="CRS of a file that names none (or override)")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="read FIELD from COLUMN (repeatable)",
        )
        parser.add_argument(
            "--id-column",
            help="column with each row's stable id (default: "
            "source_id, id, fid or objectid when present)",
        )
        parser.add_argument(
            "--source", help="source name rows are keyed under (default: file:<name>)"
        )
        parser.add_argument("--layer-name", help="layer inside a multi-layer file (GeoPackage)")
        parser.add_argument(
            "--dayfirst",
            action="store_true",
            help="read DD/MM/YYYY dates day first (ISO and ДД.ММ.ГГГГ are always read)",
        )
        self.add_common_arguments(parser)

    def handle(self, *args, **opts):
        layer = opts["layer"]
        spec = LAYERS.get(layer)
        if spec is not None and spec.imported_by:
            raise CommandError(
                f"import_layer does not write {layer}: its rows come in by {spec.imported_by}"
            )
        if layer not in importable_layers():
            raise CommandError(
                f"not a layer import_layer writes: {layer!r} "
                f"(choose from {', '.join(importable_layers())})"
            )
        mapping = parse_mapping(opts["map"])
        self.run_import(
            lambda: layer_import(
                layer=opts["layer"],
                path=opts["file"],
                srid=opts["srid"],
                mapping=mapping,
                id_column=opts["id_column"],
                source=opts["source"],
                skip_invalid=opts["skip_invalid"],
                layer_name=opts["layer_name"],
                dayfirst=opts["dayfirst"],
            ),
            what="import_layer",
            report_file=opts["report"],
        )
