"""Roles and the viewer a request acts as; every selector scopes by a ``Viewer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from gis.models import User


class Role(models.TextChoices):
    PUBLIC = "public", _("Public")
    OPERATOR = "operator", _("Operator")
    PLANNER = "planner", _("Planner")
    CONTRACTOR = "contractor", _("Contractor")


STAFF_ROLES = frozenset({Role.OPERATOR, Role.PLANNER})


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: a role and, for contractors, the organisation they work for."""

    role: Role
    organisation_id: int | None = None
    user_id: int | None = None

    @property
    def is_public(self) -> bool:
        return self.role == Role.PUBLIC

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES


PUBLIC = Viewer(role=Role.PUBLIC)


def viewer_of(
    *, role: str, organisation_id: int | None, user_id: int, is_active: bool, is_superuser: bool
) -> Viewer:
    """The viewer of an account's row; inactive accounts are the public, superusers operators."""
    if not is_active:
        return PUBLIC
    resolved = Role(role)
    if is_superuser and resolved == Role.PUBLIC:
        resolved = Role.OPERATOR
    return Viewer(role=resolved, organisation_id=organisation_id, user_id=user_id)


def viewer_for(user: User | AnonymousUser | None) -> Viewer:
    """The viewer of a Django user; anonymous users and inactive accounts are the public."""
    if user is None or not user.is_authenticated:
        return PUBLIC
    return viewer_of(
        role=user.role,
        organisation_id=user.organisation_id,
        user_id=user.pk,
        is_active=user.is_active,
        is_superuser=user.is_superuser,
    )
