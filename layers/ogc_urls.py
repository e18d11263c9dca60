"""OGC API - Features under /ogc/ (gis/urls.py includes this)."""

from django.urls import path, re_path

from gis.views import not_found_json
from layers import ogc

urlpatterns = [
    path("", ogc.LandingApi.as_view(), name="ogc-landing"),
    path("api", ogc.OpenApiJson30.as_view(), name="ogc-openapi"),
    path("conformance", ogc.ConformanceApi.as_view(), name="ogc-conformance"),
    path("collections", ogc.CollectionsApi.as_view(), name="ogc-collections"),
    path("collections/<str:collection_id>", ogc.CollectionApi.as_view(), name="ogc-collection"),
    path(
        "collections/<str:collection_id>/queryables",
        ogc.QueryablesApi.as_view(),
        name="ogc-queryables",
    ),
    path(
        "collections/<str:collection_id>/feature-schema",
        ogc.FeatureSchemaApi.as_view(),
        name="ogc-feature-schema",
    ),
    path("collections/<str:collection_id>/items", ogc.ItemsApi.as_view(), name="ogc-items"),
    path(
        "collections/<str:collection_id>/items/<str:feature_id>",
        ogc.ItemApi.as_view(),
        name="ogc-item",
    ),
    # Any other /ogc/… path: a JSON 404 like every other OGC error, not Django's HTML page.
    re_path(r"^.*$", not_found_json),
]
