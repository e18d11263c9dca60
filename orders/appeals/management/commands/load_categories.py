"""manage.py load_categories: the starting appeal categories (load_demo runs it too)."""

from django.core.management.base import BaseCommand

from orders.appeals.services.registration import categories_load


class Command(BaseCommand):
    help = "Create the starting appeal categories and their organisations; existing ones are kept."

    def handle(self, *args, **opts) -> None:
        created = categories_load()
        self.stdout.write(f"load_categories: {created} categories created")
