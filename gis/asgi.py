"""ASGI entry point: tiles are served by tiles.asgi.TileServer, everything else by Django."""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")
# WhiteNoise serves static files with a synchronous iterator; under ASGI Django consumes it in a
# thread and warns each time. The files are small and few (the map's JS and CSS).
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous")
django_application = get_asgi_application()

from tiles.asgi import TileServer  # noqa: E402  (needs the apps loaded)

application = TileServer(django_application)
