from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from gis.exceptions import error_body
from gis.health import health
from gis.metrics import exposition, metrics_refusal
from gis.middleware import error_response


def healthz(request: HttpRequest) -> JsonResponse:
    """Each dependency's state (gis.health): 200 while the database is up, else 503."""
    status, body = health()
    return JsonResponse(body, status=status)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape (gis.metrics): to the allowed addresses, or with the token."""
    if (refusal := metrics_refusal(request)) is not None:
        return refusal
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: what escaped the middleware too answers JSON, never Django's HTML page."""
    return error_response(request, None)


def not_found_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(f"No such resource: {request.path}", code="not_found"), status=404
    )
