"""The tile catalog and TileJSON: what a client needs to draw the layers its role may see."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.links import absolute_url
from gis.roles import viewer_for
from tiles.selectors import ATTRIBUTION, layer_catalog, tilejson_for, tileset_for


class TileCatalogApi(APIView):
    @extend_schema(
        summary="Tile layers the caller may see",
        responses={200: OpenApiResponse(description="Layers with fields, zooms and bounds")},
        tags=["tiles"],
    )
    def get(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        return Response(
            {
                "layers": layer_catalog(viewer=viewer, base_url=absolute_url(request, "/")),
                "attribution": ATTRIBUTION,
            }
        )


class TileJsonApi(APIView):
    @extend_schema(
        summary="TileJSON 3.0.0 for one layer or a comma list (buildings,yards)",
        parameters=[
            OpenApiParameter(
                "layers",
                str,
                OpenApiParameter.PATH,
                description="a layer's name, or several joined by commas (at most 16)",
                examples=[OpenApiExample("Two layers", value="buildings,yards")],
            )
        ],
        responses={200: OpenApiResponse(description="TileJSON 3.0.0")},
        tags=["tiles"],
    )
    def get(self, request: Request, layers: str) -> Response:
        tileset = tileset_for(names=layers, viewer=viewer_for(request.user))
        template = (
            absolute_url(
                request, reverse("tiles-tilejson", kwargs={"layers": tileset.names})
            ).removesuffix(".json")
            + "/{z}/{x}/{y}.pbf"
        )
        response = Response(tilejson_for(tileset=tileset, tiles_url=template))
        response["Cache-Control"] = "public, max-age=60" if tileset.is_public else "private"
        return response
