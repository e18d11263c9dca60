"""Where permits' answers lead: the OpenAPI links of this app (gis.openapi.operation_links)."""

from gis.openapi import Link, links_to

PERMIT = (
    "api_permits_retrieve",
    "api_permits_partial_update",
    "api_permits_start_create",
    "api_permits_close_create",
    "api_permits_cancel_create",
    "api_permits_extend_create",
    "api_permits_extension_requests_create",
    "api_permits_restoration_create",
)
CLAIM = ("api_claims_retrieve", "api_claims_document_retrieve")

LINKS: list[Link] = [
    *links_to("api_permits_create", 201, PERMIT, id="$response.body#/id"),
    *links_to("api_permits_list", 200, PERMIT, id="$response.body#/features/0/id"),
    *links_to(
        "api_permits_extension_requests_create",
        201,
        ("api_permits_extension_requests_refuse_create",),
        id="$request.path.id",
        extension_id="$response.body#/properties/extensions/0/id",
    ),
    *links_to(
        "api_permits_restoration_create",
        201,
        ("api_permits_restoration_documents_retrieve",),
        id="$request.path.id",
        document_id="$response.body#/properties/restoration/documents/0/id",
    ),
    *links_to(
        "api_permits_retrieve",
        200,
        ("api_permits_extension_requests_refuse_create",),
        id="$request.path.id",
        extension_id="$response.body#/properties/extensions/0/id",
    ),
    *links_to(
        "api_permits_retrieve",
        200,
        ("api_permits_restoration_documents_retrieve",),
        id="$request.path.id",
        document_id="$response.body#/properties/restoration/documents/0/id",
    ),
    *links_to("api_claims_list", 200, CLAIM, id="$response.body#/results/0/id"),
    *links_to("api_permits_retrieve", 200, CLAIM, id="$response.body#/properties/claims/0/id"),
]
