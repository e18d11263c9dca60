"""manage.py refresh_search_keys [--layer L …]: recompute the stored search keys."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from importers.commands import ImportCommandMixin
from layers.registry import LAYERS
from layers.services import (
    keyed_fields,
    search_keys_refresh,
    street_aliases_refresh,
    street_names_refresh,
)


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Recompute the address and name search keys of rows written by plain SQL (imports and "
        "the admin keep them up to date), then the tables of street names and their aliases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_layer_argument(parser, default="every searchable one")

    def handle(self, *args: Any, **opts: Any) -> None:
        searchable = [name for name, spec in LAYERS.items() if keyed_fields(spec.model)]
        chosen = self.chosen_layers(opts, allowed=searchable, kind="searchable")
        started = time.monotonic()
        done = []
        for name in chosen:
            spec = LAYERS[name]
            total = spec.model._default_manager.count()
            with self.progress_bar(desc=name, total=total, unit=" rows") as bar:
                done.append(search_keys_refresh(spec=spec, progress=bar.update))
        added, removed = street_names_refresh()
        aliases = street_aliases_refresh()
        layers = ", ".join(f"{r.layer} {r.rows:,} rows ({r.changed:,} changed)" for r in done)
        self.stdout.write(
            f"refresh_search_keys: {layers}; street names +{added:,} −{removed:,}, "
            f"{aliases:,} in other languages in {time.monotonic() - started:.1f} s"
        )
