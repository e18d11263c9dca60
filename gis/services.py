"""Writes on users and roles."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from gis.models import User
from gis.roles import Role
from layers.models import Organisation


@transaction.atomic
def user_create_or_update(
    *,
    username: str,
    role: Role,
    organisation_name: str | None = None,
    organisation_kind: str | None = None,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
) -> tuple[User, str]:
    """Create or update a user with a role; returns the user and its API token.

    A contractor must name an organisation; a new organisation is created with the role's kind.
    """
    if role == Role.CONTRACTOR and not organisation_name:
        raise ValueError("a contractor needs --organisation NAME")
    organisation = None
    if organisation_name:
        kind = organisation_kind or (
            Organisation.Kind.CONTRACTOR if role == Role.CONTRACTOR else Organisation.Kind.SERVICE
        )
        organisation, _ = Organisation.objects.get_or_create(
            name=organisation_name, defaults={"kind": kind}
        )
    user, _ = User.objects.get_or_create(username=username)
    user.role = role
    user.organisation = organisation
    user.email = email or user.email
    user.is_staff = is_staff or user.is_staff
    if password:
        user.set_password(password)
    elif not user.has_usable_password():
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key
