"""manage.py appeals_key NAME --purpose intake|open311: create (or replace) a key, print it once."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from orders.appeals.models import IntegrationKey
from orders.appeals.services.intake import integration_key_create


class Command(BaseCommand):
    help = (
        "Create an integration key (an intake feed's X-Api-Key, an Open311 client's api_key), "
        "or replace the named integration's key; prints the key, which is stored only hashed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="the integration, e.g. telegram or fixmystreet")
        parser.add_argument("--purpose", required=True, choices=IntegrationKey.Purpose.values)

    def handle(self, *args, **opts) -> None:
        try:
            _, raw = integration_key_create(name=opts["name"], purpose=opts["purpose"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(raw)
