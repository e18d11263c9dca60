"""The lookup API of the layers: address search (more views follow below)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import refuse_unknown
from gis.roles import viewer_for
from gis.serializers import QueryParams
from gis.strict import QUERY_PARAMETER
from layers.search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    MIN_QUERY_CHARS,
    BadSearch,
    search_answer,
    search_plan,
)

# --- address search: GET /api/search ---------------------------------------------------------


class SearchQuerySerializer(QueryParams):
    q = serializers.CharField(allow_blank=True, max_length=MAX_QUERY_CHARS)
    limit = serializers.IntegerField(default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)
    layers = serializers.CharField(required=False)
    near = serializers.CharField(required=False)

    def validate_q(self, value: str) -> str:
        if len(value.strip()) < MIN_QUERY_CHARS:
            raise serializers.ValidationError(
                _("Type at least %(min_query_chars)s characters to search.")
                % {"min_query_chars": MIN_QUERY_CHARS}
            )
        return value

    def validate_layers(self, value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            raise serializers.ValidationError(_("Name at least one layer, e.g. buildings,yards."))
        return names

    def validate_near(self, value: str) -> tuple[float, float]:
        parts = value.split(",")
        try:
            lon, lat = (float(p) for p in parts)
        except ValueError:
            raise serializers.ValidationError(
                _("Give near as lon,lat in degrees, e.g. 69.15,54.87.")
            ) from None
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180):
            raise serializers.ValidationError(_("lon must be within -180…180."))
        if not -90 <= lat <= 90:
            raise serializers.ValidationError(_("lat must be within -90…90."))
        return lon, lat


class SearchHitSerializer(serializers.Serializer[Any]):
    layer = serializers.CharField(help_text="The layer's name in the registry: buildings, yards…")
    id = serializers.IntegerField()
    address = serializers.CharField(help_text="The address, or a named object's name.")
    centroid = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text="[lon, lat]: the centroid, or a point on the object when that falls outside.",
    )
    score = serializers.FloatField(
        help_text=(
            "(tier + similarity) / 4, 0…1. Tier 3: the exact house (or, for a query without a "
            "house number, a named object); 2: the same number with another part; 1: a nearby "
            "number, a house on the street, or a named object when a house was asked."
        )
    )


class ParsedQuerySerializer(serializers.Serializer[Any]):
    street = serializers.CharField(help_text="The query's street key: 'ленина ул', 'charles n st'.")
    housenumber = serializers.CharField(help_text="The query's house key: '12к2', '16с1', '12a'.")


class SearchResponseSerializer(serializers.Serializer[Any]):
    parsed = ParsedQuerySerializer()
    results = SearchHitSerializer(many=True)


class AddressSearchApi(APIView):
    @extend_schema(
        summary="Find a house, yard or named object by free-text address or name",
        description=(
            "Every spelling of an address finds the same house: street types abbreviated or "
            "spelled out (ул./улица, пр-т/проспект, пер., бул., ш.; St/Street, Ave, N/North), the "
            "number before or after the street, with or without д./дом, building parts as 12к2, "
            "12 к 2, 12 корп. 2, 12/2, 16 с1, 16 стр. 1, 12А/12a, ё or е, any case and "
            "punctuation, one typo in the street name; Kazakh letters are kept. Ranked: the exact "
            "house first, then street (or name) similarity, then distance to `near`. Only layers "
            "the caller's role may see are searched."
        ),
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "minLength": MIN_QUERY_CHARS, "maxLength": MAX_QUERY_CHARS},
                required=True,
                description="Free text: 'ул. Ленина, д. 12 корп. 2', '1200 N Charles St'.",
                examples=[OpenApiExample("A house", value="12 Main Street")],
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                description=f"At most {MAX_LIMIT}: more is a 400, not capped.",
            ),
            OpenApiParameter(
                "layers",
                str,
                description=(
                    "Comma list, e.g. buildings,yards; default: every layer the caller may see "
                    "that has an address or a name. Unknown: 404; restricted: 401/403."
                ),
            ),
            OpenApiParameter(
                "near",
                {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+$"},
                description="lon,lat in degrees: among equal matches, the nearest comes first.",
            ),
        ],
        responses={
            200: SearchResponseSerializer,
            400: OpenApiResponse(description="q empty or 1 character, limit, near or layers bad"),
            401: OpenApiResponse(description="a restricted layer asked for without a token"),
            403: OpenApiResponse(description="a restricted layer the caller's role may not see"),
            404: OpenApiResponse(description="an unknown layer"),
        },
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        plan = search_plan(
            viewer=viewer_for(request.user), language=get_language(), **search_params(request.GET)
        )
        return Response(orjson.loads(search_answer(plan)))


def search_params(query: Mapping[str, str]) -> dict[str, Any]:
    """``q``, ``limit``, ``layers`` and ``near`` checked: ``search_plan``'s arguments.

    Shared by the view and the ASGI lookup (layers/asgi.py), so both refuse the same input with
    the same 400.
    """
    checked = SearchQuerySerializer(data=query)
    refuse_unknown(checked, query, BadSearch, noun=QUERY_PARAMETER)
    if not checked.is_valid():
        field, messages = next(iter(checked.errors.items()))
        raise BadSearch(
            _("%(field)s: %(0)s") % {"field": field, "0": messages[0]},
            extra={"fields": checked.errors},
        )
    return dict(checked.validated_data)
