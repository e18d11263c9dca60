"""OGC API - Features (Part 1 Core, GeoJSON, HTML, OpenAPI; Part 3 CQL2-text filtering) views.

Thin DRF views: check the query parameters, resolve the collection for the caller's role
(``layers.registry.get_layer``: unknown 404, restricted without a token 401, the wrong role 403),
call one selector (``layers.ogc_selectors``) and answer JSON, GeoJSON or HTML. Errors are the
project's ``{"error": {...}}`` JSON whatever the format asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from gis.exceptions import ApplicationError
from gis.links import absolute_url
from gis.roles import viewer_for
from layers import ogc_selectors as ogc
from layers.ogc_params import DEFAULT_LIMIT, MAX_LIMIT, BadQuery
from layers.registry import LAYERS, get_layer

FORMATS = ("json", "html")
ITEMS_PARAMETERS = frozenset(
    {
        "f",
        "bbox",
        "limit",
        "offset",
        "datetime",
        "properties",
        "sortby",
        "filter",
        "filter-lang",
        "filter-crs",
    }
)


class ErrorsAsJson(BaseContentNegotiation):
    """Always the JSON renderer: DRF renders only errors here, and those are JSON.

    Successful responses pick JSON/GeoJSON or HTML themselves (``f`` or ``Accept``), so an
    ``Accept: application/geo+json`` never becomes DRF's 406.
    """

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _accept_quality(accept: str, media_types: tuple[str, ...]) -> float:
    """The best q the Accept header gives any of ``media_types`` (with ``type/*`` and ``*/*``)."""
    best = 0.0
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        quality = 1.0
        for param in params:
            key, _sep, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        for wanted in media_types:
            if media in (wanted, f"{wanted.split('/')[0]}/*", "*/*"):
                best = max(best, quality)
    return best


def response_format(request: Request) -> str:
    """``f=json|html`` wins; else HTML only when Accept prefers it to JSON (browsers do)."""
    f = request.query_params.get("f")
    if f is not None:
        if f not in FORMATS:
            raise BadQuery("f", _("f must be one of %(join)s.") % {"join": ", ".join(FORMATS)})
        return f
    accept = request.headers.get("Accept", "")
    html = _accept_quality(accept, (ogc.HTML,))
    data = _accept_quality(accept, (ogc.JSON, ogc.GEOJSON, ogc.JSON_SCHEMA))
    return "html" if html > data else "json"


def query_params(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The request's parameters; an unknown or repeated one is a 400 (Part 1 /req/core)."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ApplicationError(
            _("Unknown query parameter(s): %(join)s.") % {"join": ", ".join(unknown)},
            extra={"parameters": sorted(allowed)},
        )
    repeated = sorted(k for k, v in request.query_params.lists() if len(v) > 1)
    if repeated:
        raise ApplicationError(
            _("Query parameter(s) given more than once: %(join)s.") % {"join": ", ".join(repeated)}
        )
    response_format(request)  # a bad f is a 400 before any work
    return {k: request.query_params[k] for k in request.query_params}


def ogc_base(request: Request) -> str:
    """The absolute URL of the landing page (ends with a slash); every link hangs off it."""
    return absolute_url(request, reverse("ogc-landing"))


def ogc_response(
    request: Request, doc: dict[str, Any], *, media_type: str, page: str, title: str
) -> HttpResponse:
    """The document as JSON (``media_type``) or as the HTML page ``page``."""
    if response_format(request) == "html":
        body = render_to_string(
            "ogc/page.html", {"page": page, "title": title, "doc": doc}, request=request
        )
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")), content_type=media_type
        )
    patch_vary_headers(response, ("Accept", "Authorization"))
    return response


# --- OpenAPI ---------------------------------------------------------------------------------

F_PARAMETER = OpenApiParameter(
    "f",
    str,
    enum=list(FORMATS),
    description="Response format; without it, `Accept` decides (JSON unless HTML is preferred).",
)
COLLECTION_ID = OpenApiParameter(
    "collection_id",
    str,
    OpenApiParameter.PATH,
    enum=list(LAYERS),
    description="A layer name; which ones a caller may read depends on its role.",
)
ITEMS_QUERY = [
    F_PARAMETER,
    OpenApiParameter(
        "limit",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
        },
        description=(
            f"Items per page, default {DEFAULT_LIMIT}; a limit above {MAX_LIMIT} is "
            f"answered with {MAX_LIMIT} (OGC Part 1), not refused."
        ),
    ),
    OpenApiParameter(
        "offset", {"type": "integer", "minimum": 0, "default": 0}, description="Items to skip."
    ),
    OpenApiParameter(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        style="form",
        explode=False,
        description="west,south,east,north in CRS84 (lon/lat); features intersecting it.",
    ),
    OpenApiParameter(
        "datetime",
        str,
        description=(
            "On the collection's datetime property: an instant (2024-05-01 or "
            "2024-05-01T10:00:00Z) or an interval `a/b`, `../b`, `a/..`."
        ),
    ),
    OpenApiParameter(
        "properties",
        str,
        description="Comma list of the properties to return (among those your role may see).",
    ),
    OpenApiParameter(
        "sortby",
        str,
        description="Comma list of queryables, `-` for descending: `sortby=street,-flats`.",
    ),
    OpenApiParameter(
        "filter",
        str,
        description=(
            "CQL2-text on the collection's queryables, e.g. `flats > 10 AND street LIKE "
            "'Main%'` or `S_INTERSECTS(geometry, POLYGON((…)))`."
        ),
    ),
    OpenApiParameter("filter-lang", str, enum=["cql2-text"], description="Only cql2-text."),
    OpenApiParameter("filter-crs", str, enum=[ogc.CRS84], description="Only CRS84."),
]
ERROR_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "parameter": {"type": "string", "description": "The parameter at fault"},
            },
        }
    },
}
ERRORS = {
    400: OpenApiResponse(ERROR_BODY, description="An invalid or unknown query parameter"),
    401: OpenApiResponse(ERROR_BODY, description="Restricted collection and no (valid) token"),
    403: OpenApiResponse(ERROR_BODY, description="Your role may not read this collection"),
    404: OpenApiResponse(ERROR_BODY, description="No such collection or feature"),
}


def _ok(media_type: str, description: str) -> dict[Any, OpenApiResponse]:
    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.OBJECT, description=description),
        (200, ogc.HTML): OpenApiResponse(OpenApiTypes.STR, description="The same as HTML"),
    }


# --- views -----------------------------------------------------------------------------------


class OgcApi(APIView):
    content_negotiation_class = ErrorsAsJson
    renderer_classes = [JSONRenderer]


class OpenApi30JsonRenderer(OpenApiJsonRenderer):
    media_type = ogc.OPENAPI_JSON


class OpenApiJson30(SpectacularAPIView):
    """The project's OpenAPI document (as /api/schema/), as JSON typed the OGC way.

    GDAL's OAPIF driver accepts the API definition only with ``version=3.0`` in its
    Content-Type; /api/schema/ answers ``application/vnd.oai.openapi+json`` without it.
    """

    renderer_classes = [OpenApi30JsonRenderer, OpenApiJsonRenderer2]


class LandingApi(OgcApi):
    @extend_schema(
        operation_id="ogc_landing",
        summary="OGC API - Features landing page",
        parameters=[F_PARAMETER],
        responses={**_ok(ogc.JSON, "Links to the API's parts"), 400: ERRORS[400]},
        tags=["ogc"],
    )
    def get(self, request: Request) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        doc = ogc.landing_describe(
            base=ogc_base(request),
            schema_url=absolute_url(request, reverse("schema")),
            docs_url=absolute_url(request, reverse("api-docs")),
        )
        return ogc_response(request, doc, media_type=ogc.JSON, page="landing", title=doc["title"])


class ConformanceApi(OgcApi):
    @extend_schema(
        operation_id="ogc_conformance",
        summary="Conformance classes the API implements",
        parameters=[F_PARAMETER],
        responses={**_ok(ogc.JSON, "`conformsTo`: the class URIs"), 400: ERRORS[400]},
        tags=["ogc"],
    )
    def get(self, request: Request) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        doc = ogc.conformance_describe(base=ogc_base(request))
        return ogc_response(
            request, doc, media_type=ogc.JSON, page="conformance", title="Conformance"
        )


class CollectionsApi(OgcApi):
    @extend_schema(
        operation_id="ogc_collections",
        summary="The collections (layers) your role may read",
        parameters=[F_PARAMETER],
        responses={**_ok(ogc.JSON, "Collections with extents and links"), 400: ERRORS[400]},
        tags=["ogc"],
    )
    def get(self, request: Request) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        doc = ogc.collections_describe(viewer=viewer_for(request.user), base=ogc_base(request))
        return ogc_response(
            request, doc, media_type=ogc.JSON, page="collections", title="Collections"
        )


class CollectionApi(OgcApi):
    @extend_schema(
        operation_id="ogc_collection",
        summary="One collection: extent (CRS84, and time where it has dates), CRS, links",
        parameters=[COLLECTION_ID, F_PARAMETER],
        responses={**_ok(ogc.JSON, "The collection"), **ERRORS},
        tags=["ogc"],
    )
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        viewer = viewer_for(request.user)
        spec = get_layer(collection_id, viewer)
        doc = ogc.collection_describe(spec=spec, viewer=viewer, base=ogc_base(request))
        return ogc_response(
            request, doc, media_type=ogc.JSON, page="collection", title=str(spec.title)
        )


class QueryablesApi(OgcApi):
    @extend_schema(
        operation_id="ogc_queryables",
        summary="Queryables: JSON Schema of the properties your role may filter and sort on",
        parameters=[COLLECTION_ID, F_PARAMETER],
        responses={**_ok(ogc.JSON_SCHEMA, "JSON Schema"), **ERRORS},
        tags=["ogc"],
    )
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        viewer = viewer_for(request.user)
        spec = get_layer(collection_id, viewer)
        doc = ogc.queryables_describe(spec=spec, viewer=viewer, base=ogc_base(request))
        return ogc_response(
            request,
            doc,
            media_type=ogc.JSON_SCHEMA,
            page="queryables",
            title=_("%(title)s: queryables") % {"title": spec.title},
        )


class FeatureSchemaApi(OgcApi):
    @extend_schema(
        operation_id="ogc_feature_schema",
        summary="JSON Schema of the collection's GeoJSON features (rel describedby)",
        parameters=[COLLECTION_ID, F_PARAMETER],
        responses={**_ok(ogc.JSON_SCHEMA, "JSON Schema"), **ERRORS},
        tags=["ogc"],
    )
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        viewer = viewer_for(request.user)
        spec = get_layer(collection_id, viewer)
        doc = ogc.feature_schema_describe(spec=spec, viewer=viewer, base=ogc_base(request))
        return ogc_response(
            request, doc, media_type=ogc.JSON_SCHEMA, page="schema", title=doc["title"]
        )


class ItemsApi(OgcApi):
    @extend_schema(
        operation_id="ogc_items",
        summary="Features of a collection (GeoJSON), filtered, sorted and paged",
        parameters=[COLLECTION_ID, *ITEMS_QUERY],
        responses={**_ok(ogc.GEOJSON, "A FeatureCollection with paging links"), **ERRORS},
        tags=["ogc"],
    )
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        params = query_params(request, ITEMS_PARAMETERS)
        viewer = viewer_for(request.user)
        spec = get_layer(collection_id, viewer)
        query = ogc.items_query_parse(spec=spec, viewer=viewer, params=params)
        doc = ogc.items_page(
            spec=spec, viewer=viewer, query=query, base=ogc_base(request), params=params
        )
        return ogc_response(
            request, doc, media_type=ogc.GEOJSON, page="items", title=str(spec.title)
        )


class ItemApi(OgcApi):
    @extend_schema(
        operation_id="ogc_item",
        summary="One feature (GeoJSON); 404 when absent or not yours to see",
        parameters=[
            COLLECTION_ID,
            OpenApiParameter("feature_id", int, OpenApiParameter.PATH),
            F_PARAMETER,
        ],
        responses={**_ok(ogc.GEOJSON, "A Feature"), **ERRORS},
        tags=["ogc"],
    )
    def get(self, request: Request, collection_id: str, feature_id: str) -> HttpResponse:
        query_params(request, frozenset({"f"}))
        viewer = viewer_for(request.user)
        spec = get_layer(collection_id, viewer)
        doc = ogc.item_get(spec=spec, viewer=viewer, fid=feature_id, base=ogc_base(request))
        return ogc_response(
            request, doc, media_type=ogc.GEOJSON, page="item", title=f"{spec.title} {doc['id']}"
        )
