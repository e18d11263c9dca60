from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse

from gis.exceptions import error_body
from gis.middleware import error_response


def healthz(request: HttpRequest) -> JsonResponse:
    """200 with the database and PostGIS versions when all is up, 503 with the reason if not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), postgis_full_version()")
            pg_version, postgis_version = cursor.fetchone()
    except DatabaseError as exc:
        return JsonResponse({"status": "error", "database": str(exc).strip()}, status=503)
    return JsonResponse(
        {"status": "ok", "database": pg_version, "postgis": postgis_version.split('"')[1]}
    )


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: what escaped the middleware too answers JSON, never Django's HTML page."""
    return error_response(request, None)


def not_found_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(f"No such resource: {request.path}", code="not_found"), status=404
    )
