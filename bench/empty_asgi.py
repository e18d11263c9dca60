"""An ASGI app that answers every request with ``{}``: the HTTP stack's own floor.

bench/lookup.sh serves it with the same gunicorn + uvicorn command as citygis, so that the lookup
figures can be read against what the server and client cost with no application at all.
"""

BODY = b"{}"
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
