"""What every permits view shares: input validation and the error docs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from gis.exceptions import BadQuery, validated

MAX_ID = 2**63 - 1


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    return validated(serializer_class(data=data), error=BadQuery)


ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason per field"),
    401: OpenApiResponse(description="no token"),
    403: OpenApiResponse(description="the role may not do this"),
    404: OpenApiResponse(description="no such permit (or another contractor's)"),
}
TRANSITION_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(
        description="not allowed from the permit's status: `status` and the `allowed` actions"
    ),
}
