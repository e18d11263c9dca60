"""Where appeals' answers lead: the OpenAPI links of this app (gis.openapi.operation_links).

A confirmation token (sent to the resident) and the Telegram secret have no link by design:
nothing a client reads may name them.
"""

from gis.openapi import Link, links_to

APPEAL = ("appeals_detail", "api_appeals_relink_create", "api_appeals_transition_create")
INTAKE = ("api_appeals_intake_accept_create", "api_appeals_intake_reject_create")
OPEN311_REQUEST = ("open311_v2_requests_.json_retrieve", "open311_v2_requests_.xml_retrieve")
OPEN311_TOKEN = ("open311_v2_tokens_.json_retrieve", "open311_v2_tokens_.xml_retrieve")
OPEN311_SERVICE = ("open311_v2_services_.json_retrieve", "open311_v2_services_.xml_retrieve")

LINKS: list[Link] = [
    *links_to("api_appeals_create", 201, APPEAL, id="$response.body#/id"),
    *links_to("appeals_list", 200, APPEAL, id="$response.body#/results/0/id"),
    *links_to("api_appeals_intake_create", 201, INTAKE, id="$response.body#/id"),
    *links_to("api_appeals_intake_list", 200, INTAKE, id="$response.body#/0/id"),
    *links_to("api_appeals_intake_accept_create", 201, APPEAL, id="$response.body#/id"),
    *links_to(
        "api_callbacks_retrieve",
        200,
        ("api_callbacks_outcome_create",),
        id="$response.body#/results/0/id",
    ),
    *links_to("api_callbacks_retrieve", 200, APPEAL, id="$response.body#/results/0/appeal_id"),
    *links_to(
        "open311_v2_requests.json_retrieve",
        200,
        OPEN311_REQUEST,
        service_request_id="$response.body#/0/service_request_id",
    ),
    *links_to(
        "open311_v2_requests.json_create",
        201,
        OPEN311_REQUEST,
        service_request_id="$response.body#/0/service_request_id",
    ),
    *links_to(
        "open311_v2_requests.json_create",
        201,
        OPEN311_TOKEN,
        token="$response.body#/0/service_request_id",  # our tokens are the ids
    ),
    *links_to(
        "open311_v2_requests.json_retrieve",
        200,
        OPEN311_TOKEN,
        token="$response.body#/0/service_request_id",
    ),
    *links_to(
        "open311_v2_services.json_retrieve",
        200,
        OPEN311_SERVICE,
        code="$response.body#/0/service_code",
    ),
]
