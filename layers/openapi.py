"""Where lookups and OGC answers lead: this app's OpenAPI links (gis.openapi.operation_links)."""

from gis.openapi import Link, links_to

COLLECTION = ("ogc_collection", "ogc_feature_schema", "ogc_items", "ogc_queryables")

LINKS: list[Link] = [
    *links_to(
        "api_search_retrieve",
        200,
        ("api_objects_retrieve",),
        layer="$response.body#/results/0/layer",
        id="$response.body#/results/0/id",
    ),
    *links_to("ogc_collections", 200, COLLECTION, collection_id="$response.body#/collections/0/id"),
    *links_to(
        "ogc_items",
        200,
        ("ogc_item",),
        collection_id="$request.path.collection_id",
        feature_id="$response.body#/features/0/id",
    ),
]
