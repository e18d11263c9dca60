"""manage.py create_user --role R --username U [--organisation NAME]: prints the API token."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis.roles import Role
from gis.services import user_create_or_update


class Command(BaseCommand):
    help = "Create (or update) a user with a role and print the user's API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--organisation", help="Organisation name (required for contractors; created if new)"
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Also allow admin login with this password")
        parser.add_argument("--staff", action="store_true", help="Allow the admin site")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            _, token = user_create_or_update(
                username=opts["username"],
                role=Role(opts["role"]),
                organisation_name=opts["organisation"],
                email=opts["email"],
                password=opts["password"],
                is_staff=opts["staff"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
