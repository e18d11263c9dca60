"""After bench/mixed_driver.py: the database against what the clients were told.

Every appeal a 201 announced exists with its "registered" history; no client marker made two
rows (a row without a 201 seen is counted apart: its answer was lost with the connection);
every transition a 200 announced has its history row; every permit started has, once the
worker's sweep has run, exactly one claim to the contractor and one to the police. Waits up to
--wait seconds for the sweep. Prints the findings; exits 1 when something is lost or twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import django  # noqa: E402

django.setup()

from django.db.models import Count  # noqa: E402

from orders.appeals.models import Appeal, AppealHistory  # noqa: E402
from orders.permits.models import Claim  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--wait", type=float, default=150)
    args = parser.parse_args()
    run = json.loads(args.json.read_text())

    numbers = {c["number"] for c in run["created"]}
    found = set(
        Appeal.objects.filter(number__in=numbers, history__action="registered").values_list(
            "number", flat=True
        )
    )
    rows = Counter(
        Appeal.objects.filter(text__startswith=f"{run['run']}-").values_list("text", flat=True)
    )
    told = {c["marker"] for c in run["created"]}
    twice = sorted(marker for marker, n in rows.items() if n > 1)
    unannounced = sorted(set(rows) - told)
    moved = Counter(
        AppealHistory.objects.filter(appeal__text__startswith=f"{run['run']}-")
        .exclude(to_status="")
        .exclude(action="registered")
        .values_list("appeal_id", "to_status")
    )
    missing_moves = [t for t in run["transitions"] if not moved[(t["id"], t["to"])]]

    permits = set(run["permits"])
    deadline = time.monotonic() + args.wait
    while True:
        claims = Counter(
            Claim.objects.filter(permit_id__in=permits).values_list("permit_id", "recipient_kind")
        )
        unclaimed = [
            p for p in permits if not claims[(p, "contractor")] or not claims[(p, "police")]
        ]
        if not unclaimed or time.monotonic() > deadline:
            break
        time.sleep(5)
    twice_claimed = [k for k, n in claims.items() if n > 1]
    duplicates_in_table = (
        Claim.objects.values("permit_id", "recipient_kind").annotate(n=Count("id")).filter(n__gt=1)
    )

    lost = len(numbers) - len(found)
    print(
        f"appeals: {len(numbers)} announced, {len(found)} found with their history, {lost} lost; "
        f"{len(twice)} made twice; {len(unannounced)} made without a 201 seen (answer lost)"
    )
    print(
        f"transitions: {len(run['transitions'])} announced, "
        f"{len(run['transitions']) - len(missing_moves)} in the history"
    )
    print(
        f"permits: {len(permits)} started overdue, {len(permits) - len(unclaimed)} claimed to both "
        f"recipients, {len(twice_claimed)} claimed twice (all claims: "
        f"{duplicates_in_table.count()} duplicate pairs)"
    )
    bad = lost or twice or missing_moves or unclaimed or twice_claimed or duplicates_in_table
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
