"""ASGI entry point: tiles.asgi.TileServer serves tiles and two lookups, Django the rest.

The lookups (address search, nearby) are in layers/asgi.py.

Django runs as a WSGI application in a pool of threads (a2wsgi): a request crosses from the
event loop to a thread once and runs its whole middleware chain and view there. Under Django's
own ASGI handler every synchronous middleware and the view each cost a hand-off between the
loop and a thread: about 3 ms more per request (docs/benchmarks.md, "The server's floor").
The tile server stays asynchronous: it is what the event loop is for.
"""

import os

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")
# One thread per pooled database connection: a further thread would only wait for a connection.
django_application = WSGIMiddleware(
    get_wsgi_application(),  # type: ignore[arg-type]  # its responses iterate as bytes; stubs omit it
    workers=settings.WEB_THREADS,
)

from layers.asgi import JSON_ROUTES  # noqa: E402  (needs the apps loaded)
from tiles.asgi import TileServer  # noqa: E402

# a2wsgi types an ASGI scope as TypedDicts, TileServer as the plain dict an ASGI server sends.
application = TileServer(django_application, json_routes=JSON_ROUTES)  # type: ignore[arg-type]
