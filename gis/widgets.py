"""The admin's map widget: OpenLayers served by us, drawn over our own vector tiles."""

from django.conf import settings
from django.contrib.gis.forms import OSMWidget


class CityMapWidget(OSMWidget):
    """OSMWidget without the internet: local OpenLayers, the city's own tiles as the base."""

    template_name = "gis/citymap_widget.html"

    class Media:
        extend = False  # drop the parent's CDN links
        css = {"all": ("vendor/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol.js", "gis/js/OLMapWidget.js")

    def __init__(self, attrs=None):
        lon, lat, zoom = settings.MAP_CENTER
        super().__init__(
            attrs={
                "default_lon": lon,
                "default_lat": lat,
                "default_zoom": int(zoom),
                **(attrs or {}),
            }
        )
