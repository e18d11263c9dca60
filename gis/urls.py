from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gis.api import SessionApi
from gis.views import healthz, metrics, not_found_json
from tiles.views import map_page

handler500 = "gis.views.server_error"

admin.site.site_header = _("citygis administration")
admin.site.site_title = "citygis"

urlpatterns = [
    path("", map_page, name="map"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # The language switch of every page (POST, then back to where it was) and the strings of the
    # pages' scripts in the viewer's language (gettext() and interpolate() for citygis/*.js).
    path("i18n/", include("django.conf.urls.i18n")),
    path("i18n/js", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/session", SessionApi.as_view(), name="session"),
    path("api/", include("layers.urls")),
    path("api/", include("orders.permits.urls")),
    path("api/", include("orders.appeals.urls")),
    path("open311/v2/", include("orders.appeals.open311_urls")),
    path("tiles/", include("tiles.urls")),
    path("ogc/", include("layers.ogc_urls")),
    path("", include("orders.planning.urls")),
    path("", include("orders.operations.urls")),
    # A malformed tile path gets a JSON 404 like the tile server's, not Django's HTML page.
    re_path(r"^tiles/", not_found_json),
]
