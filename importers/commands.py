"""What the import commands share: options, the progress bar, the report and the summary line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from importers.records import ImportAborted, ImportReport

SHOWN_REJECTIONS = 50


class ImportCommandMixin:
    abort_hint = "fix them, or load the valid rows with --skip-invalid"

    def add_common_arguments(self, parser, *, lenient: bool = False) -> None:
        """``--skip-invalid`` (all or nothing by default), or ``--strict`` for a lenient import."""
        if lenient:
            self.abort_hint = "--strict: any object that cannot be built aborts the import"
            parser.add_argument(
                "--strict",
                action="store_true",
                help="all or nothing: abort on any object that cannot be built or is invalid "
                "(default: report and skip them, load the rest)",
            )
        else:
            parser.add_argument(
                "--skip-invalid",
                action="store_true",
                help="load the valid rows and report the rest (default: all or nothing)",
            )
        parser.add_argument("--report", type=Path, help="write the full report as JSON here")

    def add_layer_argument(self, parser, *, default: str) -> None:
        parser.add_argument(
            "--layer",
            action="append",
            dest="layers",
            metavar="LAYER",
            help=f"only this layer (repeatable, or a comma list); default: {default}",
        )

    def chosen_layers(self, opts, *, allowed: list[str], kind: str) -> list[str]:
        """The ``--layer`` names in order, once each, or all ``allowed``; others are an error."""
        names = [n.strip() for arg in opts["layers"] or [] for n in arg.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise CommandError(
                f"not a {kind} layer: {', '.join(unknown)} (choose from {', '.join(allowed)})"
            )
        return list(dict.fromkeys(names or allowed))

    @contextmanager
    def progress_bar(self, **kwargs):
        """A tqdm bar on a terminal; silent when output is piped or logged."""
        bar = tqdm(disable=not sys.stderr.isatty(), leave=False, **kwargs)
        try:
            yield bar
        finally:
            bar.close()

    def run_import(
        self, run: Callable[[], ImportReport], *, what: str, report_file: Path | None
    ) -> ImportReport:
        try:
            report = run()
        except ImportAborted as exc:
            self.write_report(exc.report, what=what, report_file=report_file)
            raise CommandError(
                f"{len(exc.report.rejected)} rows rejected, nothing was written ({self.abort_hint})"
            ) from None
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.write_report(report, what=what, report_file=report_file)
        return report

    def write_report(self, report: ImportReport, *, what: str, report_file: Path | None) -> None:
        for word, rows in (("rejected", report.rejected), ("skipped", report.skipped_rows)):
            for row in rows[:SHOWN_REJECTIONS]:
                self.stderr.write(f"{word} {row}")
            if len(rows) > SHOWN_REJECTIONS:
                more = len(rows) - SHOWN_REJECTIONS
                self.stderr.write(f"… and {more} more {word} rows (--report FILE lists all)")
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        if report_file:
            report_file.write_text(
                json.dumps(
                    {
                        "read": report.read,
                        "created": report.created,
                        "updated": report.updated,
                        "unchanged": report.unchanged,
                        "by_layer": report.by_layer,
                        "rejected": [
                            {"layer": r.layer, "row": r.row, "reason": r.reason}
                            for r in report.rejected
                        ],
                        "skipped": dict(sorted(report.skipped.items())),
                        "skipped_rows": [
                            {"kind": r.layer, "row": r.row, "reason": r.reason}
                            for r in report.skipped_rows
                        ],
                        "notes": report.notes,
                        "seconds": round(report.seconds, 2),
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        self.stdout.write(report.summary(what))
