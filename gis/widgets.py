"""The admin's map widget: OpenLayers served by us, drawn over our own vector tiles."""

from typing import Any

from django.conf import settings
from django.contrib.gis.forms import OSMWidget


class CityMapWidget(OSMWidget):
    """OSMWidget without the internet or inline script: local OpenLayers, the city's own tiles.

    Django's template starts the map with an inline script, which the Content-Security-Policy
    forbids: ours carries the options as JSON and citygis/map_widget.js starts it.
    """

    template_name = "gis/citymap_widget.html"

    class Media:
        extend = False  # drop the parent's CDN links
        css = {"all": ("vendor/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol.js", "gis/js/OLMapWidget.js", "citygis/map_widget.js")

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        lon, lat, zoom = settings.MAP_CENTER
        super().__init__(
            attrs={
                "default_lon": lon,
                "default_lat": lat,
                "default_zoom": int(zoom),
                **(attrs or {}),
            }
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(name, value, attrs)
        options = {
            "geom_name": context["geom_type"],
            "id": context["id"],
            "map_id": f"{context['id']}_map",
            "map_srid": context["map_srid"],
            "name": context["name"],
            "module": context["module"],
            "default_lon": context["default_lon"],
            "default_lat": context["default_lat"],
            "default_zoom": context["default_zoom"],
        }
        context["widget_options"] = options
        context["options_id"] = f"{context['id']}_options"
        return context
