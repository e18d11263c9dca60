"""The demo city's appeals: the categories, then the City of Baltimore's 311 sample as appeals."""

from __future__ import annotations

from django.conf import settings

from orders.appeals.importing import appeals_import, mapping_load
from orders.appeals.services.registration import categories_load

DEMO_311_FILE = settings.SHARED_DATA_DIR / "311-baltimore" / "baltimore_311_sample_2014-2019.csv"


def demo_load() -> list[str]:
    """Load the categories and import the 311 sample (``load_demo``); the lines to show.

    The sample covers the whole city, the 2015 OSM extract only its east and centre: the rows
    outside the extract keep their point but link to nothing (flagged), and only the addresses
    on the extract's streets can be geocoded.
    """
    categories_load()
    if not DEMO_311_FILE.is_file():
        return [f"no 311 sample at {DEMO_311_FILE}: the demo city has no appeals"]
    report = appeals_import(
        path=DEMO_311_FILE, mapping=mapping_load("baltimore311"), skip_invalid=True
    )
    return [report.summary(f"demo city: appeals from {DEMO_311_FILE.name}"), *report.notes]
