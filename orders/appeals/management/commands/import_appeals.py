"""manage.py import_appeals FILE.csv --mapping PRESET|mapping.json [--skip-invalid] [--report]."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from importers.commands import ImportCommandMixin
from importers.records import ImportReport
from orders.appeals.importing import (
    AppealImportReport,
    MappingError,
    appeals_import,
    mapping_load,
)
from orders.appeals.presets import PRESETS


class Command(ImportCommandMixin, BaseCommand):
    help = (
        "Import appeals from a CSV export (a 311 dump), idempotent by the source's id; "
        "unusable coordinates are geocoded from the address or left unlocated, never guessed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--mapping",
            required=True,
            help=f"a preset ({', '.join(sorted(PRESETS))}) or a JSON mapping file",
        )
        self.add_common_arguments(parser)

    def handle(self, *args, **opts) -> None:
        try:
            mapping = mapping_load(opts["mapping"])
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        with self.progress_bar(desc=f"reading {opts['file'].name}", unit=" rows") as bar:
            self.run_import(
                lambda: appeals_import(
                    path=opts["file"],
                    mapping=mapping,
                    skip_invalid=opts["skip_invalid"],
                    progress=bar.update,
                ),
                what="import_appeals",
                report_file=opts["report"],
            )

    def write_report(self, report: ImportReport, *, what: str, report_file: Path | None) -> None:
        super().write_report(report, what=what, report_file=report_file)
        if report_file and isinstance(report, AppealImportReport):
            # The shared report plus what only appeals have: the rows left without a point.
            data = json.loads(report_file.read_text())
            data["unlocated"] = report.unlocated
            data["unknown_types"] = dict(report.unknown_types.most_common())
            report_file.write_text(json.dumps(data, indent=2, ensure_ascii=False))
