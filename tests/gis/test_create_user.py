"""manage.py create_user: a user with a role, and the API token it authenticates with."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management.base import CommandError
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from gis.models import User
from gis.roles import Role, viewer_for
from layers.models import Organisation
from tests.factories import CommandRun

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]


def test_contractor_token_authenticates(run_command: RunCommand) -> None:
    run = run_command(
        "create_user", "--role", "contractor", "--username", "c1", "--organisation", "Acme"
    )
    key = run.stdout.strip()
    user, token = TokenAuthentication().authenticate_credentials(key)
    assert token == Token.objects.get(user__username="c1")
    assert (user.username, user.role, user.organisation.name) == ("c1", Role.CONTRACTOR, "Acme")
    assert user.organisation.kind == Organisation.Kind.CONTRACTOR
    assert not user.check_password("")
    assert viewer_for(user).organisation_id == user.organisation_id


def test_contractor_without_organisation_is_a_command_error(run_command: RunCommand) -> None:
    with pytest.raises(CommandError, match="contractor needs --organisation"):
        run_command("create_user", "--role", "contractor", "--username", "c1")
    assert not User.objects.exists()


def test_unknown_role_is_a_command_error(run_command: RunCommand) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run_command("create_user", "--role", "mayor", "--username", "m1")


def test_second_run_updates_the_user_and_keeps_the_token(run_command: RunCommand) -> None:
    first = run_command("create_user", "--role", "planner", "--username", "p1")
    second = run_command("create_user", "--role", "operator", "--username", "p1")
    assert second.stdout == first.stdout
    assert User.objects.get(username="p1").role == Role.OPERATOR
    assert Token.objects.count() == 1


def test_existing_organisation_is_reused(run_command: RunCommand) -> None:
    run_command("create_user", "--role", "contractor", "--username", "c1", "--organisation", "Acme")
    run_command("create_user", "--role", "contractor", "--username", "c2", "--organisation", "Acme")
    assert Organisation.objects.get().users.count() == 2


def test_password_allows_login(run_command: RunCommand) -> None:
    run_command("create_user", "--role", "operator", "--username", "o1", "--password", "s3cret!x")
    assert User.objects.get(username="o1").check_password("s3cret!x")
