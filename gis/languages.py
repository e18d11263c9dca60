"""The language of a request that Django's ``LocaleMiddleware`` does not see (the ASGI front).

The same choice as the middleware's: the language switch's cookie, else the best of
``Accept-Language`` that citygis speaks, else the city's language (``LANGUAGE_CODE``).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def _supported(code: str) -> str | None:
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None


def request_language(*, chosen: str = "", accept_language: bytes = b"") -> str:
    """A request's language from the switch's cookie value and its ``Accept-Language`` header."""
    if chosen and (code := _supported(chosen)):
        return code
    for code, _quality in parse_accept_lang_header(accept_language.decode("latin-1")):
        if code != "*" and (supported := _supported(code)):
            return supported
    return settings.LANGUAGE_CODE
