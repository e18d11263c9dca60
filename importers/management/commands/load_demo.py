"""manage.py load_demo: the demo city (idempotent) and demo users with their tokens."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from importers.commands import ImportCommandMixin
from importers.demo import demo_city_load, demo_districts_summary, demo_users_create


class Command(ImportCommandMixin, BaseCommand):
    help = "Load the demo city from the OSM extract, derive yards etc., create demo users."

    def handle(self, *args, **opts):
        osm_file = settings.DEMO_OSM_FILE
        if not osm_file.is_file():
            raise CommandError(f"demo extract not found: {osm_file} (set DEMO_OSM_FILE)")
        with self.progress_bar(desc=f"reading {osm_file.name}", unit=" objects") as bar:
            imported, derived = demo_city_load(osm_file=osm_file, progress=bar.update)
        self.write_report(imported, what=f"demo city: {osm_file.name}", report_file=None)
        self.write_report(derived, what="demo city: derived layers", report_file=None)
        self.stdout.write(demo_districts_summary())
        self.stdout.write("demo users (API tokens; send as 'Authorization: Token <token>'):")
        for user, token in demo_users_create():
            org = f" ({user.organisation})" if user.organisation else ""
            self.stdout.write(f"  {user.role:<10} {user.username:<12} {token}{org}")
