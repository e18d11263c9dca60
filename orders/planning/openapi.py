"""Where yard plans' answers lead: the OpenAPI links of this app (gis.openapi.operation_links)."""

from gis.openapi import Link, links_to

ITEM = "api_yards_plans_items_partial_update"

LINKS: list[Link] = [
    *links_to(
        "api_yards_plans_create", 201, ("api_yards_plans_retrieve",), id="$response.body#/id"
    ),
    *links_to(
        "api_yards_plans_create",
        201,
        (ITEM,),
        id="$response.body#/id",
        item_id="$response.body#/items/0/id",
    ),
    *links_to(
        "api_yards_plans_list", 200, ("api_yards_plans_retrieve",), id="$response.body#/plans/0/id"
    ),
    *links_to(
        "api_yards_plans_retrieve",
        200,
        (ITEM,),
        id="$request.path.id",
        item_id="$response.body#/items/0/id",
    ),
]
