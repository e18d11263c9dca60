"""What every appeals view shares: input checks, fields, the token authentication, error docs."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.contrib.gis.geos import Point
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.settings import api_settings

from gis.authentication import ThrottledTokenAuthentication
from gis.exceptions import BadInput, Forbidden, Unauthorized, validated
from gis.roles import Role, Viewer
from gis.serializers import DayField
from orders.appeals import refdata, selectors
from orders.appeals.models import Category

TAG = "appeals"


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    return validated(serializer_class(data=data), error=BadInput)


def _point(data: dict[str, Any]) -> Point | None:
    if data.get("lon") is None:
        return None
    return Point(data["lon"], data["lat"], srid=4326)


def _category(code: str) -> Category:
    category = selectors.category_by_code(code)
    if category is None:
        raise BadInput(
            _("Unknown category %(code)s.") % {"code": repr(code)},
            extra={"fields": {"category": ["Unknown; GET /api/appeals/categories lists them."]}},
        )
    return category


class CachedTokenAuthentication(ThrottledTokenAuthentication):
    """DRF's token authentication, the token and its user copied per process (``refdata``).

    The same answers: an unknown token or an inactive user is refused; a token deleted or a user
    changed is read again once the database's notice arrives.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        try:
            token = refdata.cache.get(
                ("token", key), lambda: Token.objects.select_related("user").get(key=key)
            )
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


# The same scheme as DRF's token authentication (drf-spectacular's extension matches subclasses):
# one "tokenAuth" in the schema, not a warning that two classes claim the name.
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)

# The project's authentication (settings), with the token read through the per-process copies.
AUTHENTICATION = [
    CachedTokenAuthentication if cls is ThrottledTokenAuthentication else cls
    for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
]


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def require_operator(viewer: Viewer) -> None:
    if viewer.is_public:
        raise Unauthorized(_("This needs an operator's token."))
    if viewer.role != Role.OPERATOR:
        raise Forbidden(
            _("Only operators may do this; your role is %(role)s.") % {"role": viewer.role}
        )


class CommaListField(serializers.CharField):
    """A comma list of choices: ``new,assigned``."""

    def __init__(self, *, choices: list[str] | None = None, **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(i.strip() for i in super().to_internal_value(data).split(",")))
        items = tuple(i for i in items if i)
        if not items:
            raise serializers.ValidationError(_("Name at least one value."))
        if self.choices is not None:
            unknown = [i for i in items if i not in self.choices]
            if unknown:
                raise serializers.ValidationError(
                    _("Unknown: %(join)s; one of %(join2)s.")
                    % {"join": ", ".join(unknown), "join2": ", ".join(self.choices)}
                )
        return items


class BboxField(serializers.CharField):
    """``west,south,east,north`` in lon/lat degrees."""

    def to_internal_value(self, data: Any) -> tuple[float, float, float, float]:
        parts = super().to_internal_value(data).split(",")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise serializers.ValidationError(_("Four numbers: west,south,east,north.")) from None
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise serializers.ValidationError(
                _("west < east within -180…180 and south < north within -90…90.")
            )
        return west, south, east, north


class AppealPointInput(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError({"lat": ["Give lon and lat together."]})
        return attrs


def _period_fields(help_from: str, help_to: str) -> dict[str, serializers.Field]:
    # "from" is a Python keyword: the fields are added by name.
    return {
        "from": DayField(required=False, help_text=help_from),
        "to": DayField(required=False, help_text=help_to),
    }


def _period(data: dict[str, Any]) -> tuple[date | None, date | None]:
    start, end = data.get("from"), data.get("to")
    if start and end and start > end:
        raise BadInput(_("from is after to."), extra={"fields": {"from": ["After to."]}})
    return start, end


ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason per field"),
    401: OpenApiResponse(description="no token (or no integration key)"),
    403: OpenApiResponse(description="a role (or key) that may not do this"),
    404: OpenApiResponse(description="no such appeal, or not one the caller may see"),
}
