// 3D buildings: the flat buildings layer swapped for extrusions of each building's height.
//
// A pure function of the style buildStyle() makes, so map.js can rebuild the style (log in, log
// out) and stay in 3D. Heights come from the tiles' render_height_m (layers.models.Building: the
// surveyed height, else floors × 3 m); a building with neither stands FALLBACK_HEIGHT_M tall.

import { LAYER_KEY } from "./style.js";

export const EXTRUSION_ID = "buildings-3d";
export const PITCH_3D = 50;
export const FALLBACK_HEIGHT_M = 6;

const FLAT_IDS = new Set(["buildings-fill", "buildings-outline"]);

// The style with the buildings' outlines extruded; buildings mapped as points stay points.
export function withBuildingsIn3D(style) {
  const fill = style.layers.find((layer) => layer.id === "buildings-fill");
  if (!fill || fill.metadata?.[LAYER_KEY] !== "buildings") return style;
  const extrusion = {
    id: EXTRUSION_ID,
    type: "fill-extrusion",
    source: fill.source,
    "source-layer": fill["source-layer"],
    filter: fill.filter,
    minzoom: fill.minzoom,
    layout: { visibility: fill.layout?.visibility ?? "visible" },
    metadata: fill.metadata,
    paint: {
      "fill-extrusion-color": "#d3c6b8",
      "fill-extrusion-height": ["coalesce", ["get", "render_height_m"], FALLBACK_HEIGHT_M],
      "fill-extrusion-base": 0,
      "fill-extrusion-opacity": 0.9,
    },
  };
  const layers = [];
  for (const layer of style.layers) {
    if (layer.id === "buildings-fill") layers.push(extrusion);
    else if (!FLAT_IDS.has(layer.id)) layers.push(layer);
  }
  return { ...style, layers };
}
