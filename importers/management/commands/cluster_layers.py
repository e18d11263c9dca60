"""manage.py cluster_layers [--layer L …]: put layer tables in spatial order (CLUSTER)."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from importers.commands import ImportCommandMixin
from layers.registry import LAYERS, source_layers
from layers.services import layer_cluster


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Rewrite layer tables in the order of their spatial index, so a tile reads a few "
        "neighbouring pages. Locks each table while it is rewritten: run it after a bulk load "
        "by plain SQL (the OSM and file importers do it themselves after a bulk load)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_layer_argument(parser, default="every stored layer")

    def handle(self, *args: Any, **opts: Any) -> None:
        chosen = self.chosen_layers(opts, allowed=source_layers(), kind="stored")
        started = time.monotonic()
        done = []
        with self.progress_bar(desc="clustering", total=len(chosen), unit=" layers") as bar:
            for name in chosen:
                if result := layer_cluster(spec=LAYERS[name]):
                    done.append(result)
                bar.update(1)
        rows = sum(r.rows for r in done)
        slowest = max(done, key=lambda r: r.seconds, default=None)
        longest = f"; longest {slowest.layer} {slowest.seconds:.1f} s" if slowest else ""
        self.stdout.write(
            f"cluster_layers: {len(done)} layers, {rows:,} rows in spatial order in "
            f"{time.monotonic() - started:.1f} s{longest}"
        )
