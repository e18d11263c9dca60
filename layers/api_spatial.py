"""The object card and the spatial queries: thin views over layers.selectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import BadQuery, validated
from gis.parsers import JSONParser
from gis.roles import viewer_for
from gis.serializers import QueryParams
from gis.strict import QUERY_PARAMETER
from layers.selectors import (
    MAX_BUFFER_M,
    MAX_RADIUS_M,
    MAX_RESULTS,
    area_from_geojson,
    object_card,
    objects_along,
    objects_nearby,
    objects_within,
)


class LayerListField(serializers.CharField):
    """A comma list of layer names: ``buildings,yards``."""

    def to_internal_value(self, data: Any) -> list[str]:  # type: ignore[override]  # text in, a list out
        names = [n.strip() for n in super().to_internal_value(data).split(",") if n.strip()]
        if not names:
            raise serializers.ValidationError(_("Name at least one layer."))
        return names


def _query(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    return validated(
        serializer_class(data=request.query_params),
        error=BadQuery,
        message="Invalid query parameters.",
    )


class NearbyQuery(QueryParams):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    radius = serializers.FloatField(
        default=100, min_value=0.1, max_value=MAX_RADIUS_M, help_text="metres"
    )
    layers = LayerListField(required=False, help_text="comma list; default: every visible layer")
    limit = serializers.IntegerField(default=20, min_value=1, max_value=MAX_RESULTS)


class AlongQuery(QueryParams):
    layer = serializers.CharField(help_text="a line layer, e.g. snowplough_routes")
    id = serializers.IntegerField(min_value=1)
    buffer = serializers.FloatField(
        default=30, min_value=0.1, max_value=MAX_BUFFER_M, help_text="metres"
    )
    layers = LayerListField(required=False, help_text="comma list; default: every visible layer")
    limit = serializers.IntegerField(default=200, min_value=1, max_value=MAX_RESULTS)


class WithinQuery(QueryParams):
    layers = LayerListField(required=False, help_text="comma list; default: every visible layer")
    limit = serializers.IntegerField(default=100, min_value=1, max_value=MAX_RESULTS)


FEATURES = OpenApiResponse(OpenApiTypes.OBJECT, description="GeoJSON features")
ERRORS = {
    400: OpenApiResponse(description="invalid input, with the reason"),
    401: OpenApiResponse(description="a restricted layer without a token"),
    403: OpenApiResponse(description="a layer the role may not see"),
    404: OpenApiResponse(description="unknown layer or object"),
}


class ObjectCardApi(APIView):
    @extend_schema(
        summary="An object's card: its attributes and what lies around it",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["lookup"],
    )
    def get(self, request: Request, layer: str, pk: int) -> Response:
        return Response(object_card(layer=layer, pk=pk, viewer=viewer_for(request.user)))


class NearbyApi(APIView):
    @extend_schema(
        summary="Objects nearest a point, within a radius (geodesic metres)",
        parameters=[NearbyQuery],
        responses={200: FEATURES, **ERRORS},
        tags=["lookup"],
    )
    def get(self, request: Request) -> Response:
        return Response(
            objects_nearby(viewer=viewer_for(request.user), **nearby_params(request.GET))
        )


def nearby_params(query: Mapping[str, str]) -> dict[str, Any]:
    """``lon``, ``lat``, ``radius``, ``layers`` and ``limit`` checked, as arguments.

    They are ``objects_nearby``'s; the view and the ASGI lookup (layers/asgi.py) share them.
    """
    q = validated(
        NearbyQuery(data=query),
        error=BadQuery,
        message="Invalid query parameters.",
        noun=QUERY_PARAMETER,
    )
    return {
        "lon": q["lon"],
        "lat": q["lat"],
        "radius_m": q["radius"],
        "layers": q.get("layers"),
        "limit": q["limit"],
    }


class WithinApi(APIView):
    # The area is GeoJSON: a form body cannot carry it (415, not a guess at its fields).
    parser_classes = [JSONParser]
    max_body_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # an area of up to MAX_VERTICES

    @extend_schema(
        summary="Objects inside a GeoJSON polygon: counts and features per layer",
        parameters=[WithinQuery],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["lookup"],
    )
    def post(self, request: Request) -> Response:
        q = _query(WithinQuery, request)
        area = area_from_geojson(request.data)
        return Response(
            objects_within(
                area=area,
                layers=q.get("layers"),
                limit=q["limit"],
                viewer=viewer_for(request.user),
            )
        )


class AlongApi(APIView):
    @extend_schema(
        summary="Objects along a line object (which houses a snowplough route serves)",
        parameters=[AlongQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
        tags=["lookup"],
    )
    def get(self, request: Request) -> Response:
        q = _query(AlongQuery, request)
        return Response(
            objects_along(
                layer=q["layer"],
                pk=q["id"],
                buffer_m=q["buffer"],
                layers=q.get("layers"),
                limit=q["limit"],
                viewer=viewer_for(request.user),
            )
        )
