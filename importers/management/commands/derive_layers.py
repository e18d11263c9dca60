"""manage.py derive_layers: yards, manholes, snowplough routes and route stops for a demo city."""

from django.core.management.base import BaseCommand

from importers.commands import ImportCommandMixin
from importers.derive import layers_derive


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Derive the objects OSM does not map (yards, manholes, snowplough routes, route stops) "
        'from the loaded layers; they are stored with source="derived".'
    )

    def add_arguments(self, parser):
        parser.add_argument("--report", default=None, help="write the full report as JSON here")

    def handle(self, *args, **opts):
        self.run_import(layers_derive, what="derive_layers", report_file=opts["report"])
