"""Absolute links in answers (TileJSON tile URLs, OGC links, Open311 discovery, residents' links).

Made from ``PUBLIC_URL`` when it is set, else from the request's Host, which Django has checked
against ``ALLOWED_HOSTS`` (a Host that is not ours is a 400 before any link is made): a public,
cacheable answer never carries a host an attacker chose.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def absolute_url(request: HttpRequest, path: str) -> str:
    """``path`` (absolute, with its query) as a full URL of this service."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL + path
    return request.build_absolute_uri(path)
