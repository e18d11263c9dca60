"""Open311 GeoReport v2 routes, under /open311/v2/: one route per format of each resource."""

from django.urls import URLPattern, path
from rest_framework.views import APIView

from orders.appeals.open311 import (
    FORMATS,
    DiscoveryApi,
    RequestApi,
    RequestsApi,
    ServiceDefinitionApi,
    ServicesApi,
    TokenApi,
)


def _both(route: str, view: type[APIView], name: str) -> list[URLPattern]:
    """One route per format: ``services.json`` and ``services.xml``."""
    return [
        path(f"{route}.{fmt}", view.as_view(), {"fmt": fmt}, name=f"open311-{name}-{fmt}")
        for fmt in FORMATS
    ]


urlpatterns = [
    *_both("discovery", DiscoveryApi, "discovery"),
    *_both("services", ServicesApi, "services"),
    *_both("services/<str:code>", ServiceDefinitionApi, "service"),
    *_both("requests", RequestsApi, "requests"),
    *_both("requests/<str:service_request_id>", RequestApi, "request"),
    *_both("tokens/<str:token>", TokenApi, "token"),
]
