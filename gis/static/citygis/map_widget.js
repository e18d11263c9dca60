// The admin's map widget (gis/templates/gis/citymap_widget.html): Django's MapWidget
// (gis/js/OLMapWidget.js) started from the options the page carries as JSON, over our own
// vector tiles, with no inline script.
"use strict";

function startCityMapWidgets() {
  for (const element of document.querySelectorAll(".dj_map_wrapper > script[type='application/json']")) {
    if (element.dataset.started) continue;
    element.dataset.started = "1";
    const options = JSON.parse(element.textContent);
    options.base_layer = new ol.layer.VectorTile({
      source: new ol.source.VectorTile({
        format: new ol.format.MVT(),
        url: "/tiles/land,streets,buildings/{z}/{x}/{y}.mvt",
        attributions: "© OpenStreetMap contributors",
        maxZoom: 18,
      }),
    });
    window[options.module] = new MapWidget(options);
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", startCityMapWidgets);
} else {
  startCityMapWidgets();
}
