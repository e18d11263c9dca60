"""Roles and the viewer a request acts as; every selector scopes by a ``Viewer``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Role(models.TextChoices):
    PUBLIC = "public", "Public"
    OPERATOR = "operator", "Operator"
    PLANNER = "planner", "Planner"
    CONTRACTOR = "contractor", "Contractor"


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


def viewer_for(user) -> Viewer:
    """The viewer of a Django user; anonymous users and inactive accounts are the public."""
    if user is None or not user.is_authenticated or not user.is_active:
        return PUBLIC
    role = Role(user.role)
    if user.is_superuser and role == Role.PUBLIC:
        role = Role.OPERATOR
    return Viewer(role=role, organisation_id=user.organisation_id, user_id=user.pk)
