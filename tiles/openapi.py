"""Where the tile catalog leads: this app's OpenAPI links (gis.openapi.operation_links)."""

from gis.openapi import Link, links_to

LINKS: list[Link] = links_to(
    "tiles_retrieve", 200, ("tiles_.json_retrieve",), layers="$response.body#/layers/0/id"
)
