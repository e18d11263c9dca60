// The map's MapLibre style, built from the tile catalog (GET /tiles/) the caller may see.
//
// Pure functions, no DOM: map.js calls buildStyle() again whenever the catalog changes (log in,
// log out), and MapLibre applies the difference. Only circles, lines and fills: we serve no
// glyphs or sprites, so no text labels and no icons.

// tiles.selectors.MAX_LAYERS_PER_TILE: a composite tile URL names at most this many layers.
export const MAX_LAYERS_PER_SOURCE = 16;

// Ties a style layer to the catalog layer it draws (toggles, cards).
export const LAYER_KEY = "citygis:layer";

// The appeals layer (orders.appeals, no personal data): drawn when the catalog lists it.
export const APPEALS_LAYER = "appeals";
// Appeal states (orders.appeals Appeal.Status) drawn green as done and grey as set aside; every
// other state (new, assigned, in_work, reopened …) is in work: red.
export const APPEAL_DONE_STATES = ["done", "archived"];
export const APPEAL_SET_ASIDE_STATES = ["rejected", "duplicate"];

const BACKGROUND = "#f2efe9";

const POLYGONS = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
const POINTS = ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]];

const LAND_COLOURS = [
  "park", "#c8e6b0",
  "grass", "#d6edc4",
  "wood", "#add19e",
  "cemetery", "#cfdfc6",
  "water", "#aad3df",
  "residential", "#e3e0dc",
  "commercial", "#e6dfdf",
  "industrial", "#dcd9d6",
  "parking", "#e9e7e2",
  "school", "#efe8d2",
  "hospital", "#f0e0e0",
];

// Line width in pixels at z16 by OSM highway class; it halves every ~1.5 zooms below.
const STREET_WIDTH = [
  "match", ["get", "kind"],
  ["motorway", "trunk"], 9,
  ["primary", "secondary"], 8,
  "tertiary", 7,
  ["residential", "unclassified", "living_street", "pedestrian"], 5.5,
  ["motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"], 4.5,
  "service", 3,
  2,
];
const STREET_COLOUR = [
  "match", ["get", "kind"],
  ["motorway", "motorway_link"], "#e892a2",
  ["trunk", "trunk_link"], "#f9b29c",
  ["primary", "primary_link"], "#fcd6a4",
  ["secondary", "secondary_link"], "#f7fabf",
  "#ffffff",
];
// Public transport by kind (layers.models.TransitKind): the colours city transit maps use.
const TRANSIT_COLOURS = [
  "match", ["get", "kind"],
  "trolleybus", "#2e7d32",
  "tram", "#c62828",
  "light_rail", "#ef6c00",
  "subway", "#6a1b9a",
  "share_taxi", "#5d8aa8",
  "#3a5fcd",
];

// Improvement works (the register, and their kind in the works layer).
const IMPROVEMENT_COLOUR = "#43a047";

const PATHS = ["footway", "path", "cycleway", "steps", "track", "bridleway"];
const IS_PATH = ["in", ["get", "kind"], ["literal", PATHS]];

const NETWORK_COLOURS = [
  "match", ["get", "kind"],
  "water", "#1f78b4",
  "heat", "#e31a1c",
  "sewer", "#8c510a",
  "storm", "#35978f",
  "gas", "#e6a100",
  "power", "#9d4edd",
  "telecom", "#33a02c",
  "#555555",
];

function byZoom(atZ16, { z12 = 0.25, z19 = 3 } = {}) {
  return ["interpolate", ["exponential", 1.5], ["zoom"], 12, scaled(atZ16, z12), 16, atZ16, 19,
    scaled(atZ16, z19)];
}

function scaled(value, factor) {
  return typeof value === "number" ? value * factor : ["*", value, factor];
}

function circle(id, { colour, radius = 4, stroke = "#ffffff", strokeWidth = 1.5, filter }) {
  return {
    id,
    type: "circle",
    ...(filter ? { filter } : {}),
    paint: {
      "circle-color": colour,
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, radius * 0.6, 18, radius * 1.6],
      "circle-stroke-color": stroke,
      "circle-stroke-width": strokeWidth,
    },
  };
}

function area(id, { fill, outline, opacity = 1, filter = POLYGONS }) {
  return [
    { id: `${id}-fill`, type: "fill", filter, paint: { "fill-color": fill, "fill-opacity": opacity } },
    { id: `${id}-outline`, type: "line", filter, paint: { "line-color": outline, "line-width": 1 } },
  ];
}

// How each known catalog layer is drawn: a list of style layers without source/source-layer.
export const DRAW = {
  land: () => [
    {
      id: "land-fill",
      type: "fill",
      paint: { "fill-color": ["match", ["get", "kind"], ...LAND_COLOURS, "#e8e5df"] },
    },
  ],
  yards: () => [
    { id: "yards-fill", type: "fill", paint: { "fill-color": "#efe6c2", "fill-opacity": 0.7 } },
    {
      id: "yards-outline",
      type: "line",
      paint: { "line-color": "#c2ae6a", "line-width": 1, "line-dasharray": [3, 2] },
    },
  ],
  // The published yard repair plans (orders.planning), over the yards: coloured by status.
  yard_plan: () => {
    const colour = ["match", ["get", "status"], "done", "#2e9e44", "in_progress", "#e4572e", "#f2a541"];
    return area("yard_plan", { fill: colour, outline: colour, opacity: 0.45 });
  },
  sports_fields: () => [
    ...area("sports_fields", { fill: "#a8dcc5", outline: "#6fbf9f" }),
    circle("sports_fields-point", { colour: "#3fa37c", filter: POINTS }),
  ],
  playgrounds: () => [
    ...area("playgrounds", { fill: "#d5f5d9", outline: "#76c48a" }),
    circle("playgrounds-point", { colour: "#4caf50", filter: POINTS }),
  ],
  streets: () => [
    {
      id: "streets-casing",
      type: "line",
      filter: ["!", IS_PATH],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#bdb5ab", "line-width": byZoom(["+", STREET_WIDTH, 1.5]) },
    },
    {
      id: "streets-line",
      type: "line",
      filter: ["!", IS_PATH],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": STREET_COLOUR, "line-width": byZoom(STREET_WIDTH) },
    },
    {
      id: "streets-path",
      type: "line",
      filter: IS_PATH,
      paint: {
        "line-color": "#e07b6a",
        "line-width": byZoom(1.4, { z12: 0.5, z19: 1.5 }),
        "line-dasharray": [2, 1.5],
      },
    },
  ],
  buildings: () => [
    {
      id: "buildings-fill",
      type: "fill",
      filter: POLYGONS,
      paint: { "fill-color": "#d3c6b8", "fill-outline-color": "#a8978a" },
    },
    {
      id: "buildings-outline",
      type: "line",
      filter: POLYGONS,
      minzoom: 15,
      paint: { "line-color": "#a8978a", "line-width": 0.8 },
    },
    // OSM buildings mapped only as a point stay points: never an invented outline.
    circle("buildings-point", { colour: "#b49f8c", stroke: "#7d6b5c", strokeWidth: 1, filter: POINTS }),
  ],
  snowplough_routes: () => [
    {
      id: "snowplough_routes-line",
      type: "line",
      paint: {
        "line-color": ["match", ["get", "priority"], 1, "#00897b", 2, "#26a69a", "#80cbc4"],
        "line-width": byZoom(2, { z12: 0.6, z19: 1.5 }),
        "line-opacity": 0.8,
        "line-dasharray": [4, 2],
        "line-offset": byZoom(4, { z12: 0.3, z19: 2 }),
      },
    },
  ],
  bus_routes: () => [
    {
      id: "bus_routes-line",
      type: "line",
      layout: { "line-join": "round" },
      paint: {
        "line-color": TRANSIT_COLOURS,
        "line-width": byZoom(2, { z12: 0.7, z19: 1.5 }),
        "line-opacity": 0.55,
      },
    },
  ],
  networks: () => [
    {
      id: "networks-line",
      type: "line",
      layout: { "line-cap": "round" },
      paint: {
        "line-color": NETWORK_COLOURS,
        "line-width": byZoom(3, { z12: 0.5, z19: 1.5 }),
        "line-dasharray": [3, 1],
      },
    },
  ],
  manholes: () => [
    circle("manholes-point", { colour: NETWORK_COLOURS, radius: 4, stroke: "#222222", strokeWidth: 1 }),
  ],
  bus_stops: () => [circle("bus_stops-point", { colour: TRANSIT_COLOURS, radius: 4 })],
  addresses: () => [
    ...area("addresses", { fill: "#b0a48a", outline: "#8d7f62", opacity: 0.15 }),
    circle("addresses-point", {
      colour: ["match", ["get", "kind"], "entrance", "#5d4037", "#8d7f62"],
      radius: 3,
      filter: POINTS,
    }),
  ],
  improvement_works: () => [
    ...area("improvement_works", { fill: IMPROVEMENT_COLOUR, outline: IMPROVEMENT_COLOUR, opacity: 0.25 }),
    circle("improvement_works-point", { colour: IMPROVEMENT_COLOUR, radius: 5, filter: POINTS }),
  ],
  // Districts: their borders only, a fill would tint the whole city.
  districts: () => [
    {
      id: "districts-line",
      type: "line",
      paint: { "line-color": "#6a4c93", "line-width": 1.5, "line-opacity": 0.6, "line-dasharray": [6, 3] },
    },
  ],
  places: () => [circle("places-point", { colour: "#6a4c93", radius: 3 })],
  street_lights: () => [
    circle("street_lights-point", { colour: "#ffd400", radius: 3, stroke: "#7a6500", strokeWidth: 1 }),
  ],
  cameras: () => [circle("cameras-point", { colour: "#222222", radius: 4, stroke: "#ffd400" })],
  permits: drawPermits,
  works: drawWorks,
  [APPEALS_LAYER]: drawAppeals,
};

// Works on the map's day (works_date.js filters them): dug-up permits orange, yard repairs blue,
// improvement works green, network repairs purple; an area tinted, a repaired line drawn wide,
// a work mapped as a point a dot.
const WORK_COLOUR = [
  "match", ["get", "kind"],
  "permit", "#f08c00",
  "yard", "#1e88e5",
  "improvement", IMPROVEMENT_COLOUR,
  "#8e24aa",
];

export function drawWorks() {
  return [
    ...area("works", { fill: WORK_COLOUR, outline: WORK_COLOUR, opacity: 0.3 }),
    {
      id: "works-line",
      type: "line",
      filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]],
      layout: { "line-cap": "round" },
      paint: { "line-color": WORK_COLOUR, "line-width": byZoom(5, { z12: 0.5, z19: 1.5 }), "line-opacity": 0.7 },
    },
    circle("works-point", { colour: WORK_COLOUR, radius: 5, filter: POINTS }),
  ];
}

// Excavation permits: overdue ones (deadline before today, still open) red, open ones orange,
// closed or cancelled grey. Tiles carry deadline as an ISO date, so strings compare as dates.
export function drawPermits() {
  const today = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD, the browser's day
  const open = ["in", ["get", "status"], ["literal", ["issued", "in_progress"]]];
  const colour = [
    "case",
    ["all", open, ["<", ["to-string", ["get", "deadline"]], today]], "#d62828",
    open, "#f08c00",
    "#9e9e9e",
  ];
  return area("permits", { fill: colour, outline: colour, opacity: 0.35 });
}

// Appeals: red while in work, green when done; points, or a tinted area if one is an area.
export function drawAppeals() {
  const state = ["downcase", ["to-string", ["coalesce", ["get", "status"], ["get", "state"], ""]]];
  const colour = [
    "case",
    ["in", state, ["literal", APPEAL_DONE_STATES]], "#2e9e44",
    ["in", state, ["literal", APPEAL_SET_ASIDE_STATES]], "#9e9e9e",
    "#d62828",
  ];
  return [
    {
      id: "appeals-fill",
      type: "fill",
      filter: POLYGONS,
      paint: { "fill-color": colour, "fill-opacity": 0.25, "fill-outline-color": colour },
    },
    circle("appeals-point", { colour, radius: 6, filter: POINTS }),
  ];
}

// A layer the map does not know yet still shows, drawn by its geometry type.
function drawGeneric(layer) {
  const id = layer.id;
  const type = layer.geometry_type || "Geometry";
  if (type.endsWith("Point")) return [circle(`${id}-point`, { colour: "#6a4c93" })];
  if (type.endsWith("LineString")) {
    return [{ id: `${id}-line`, type: "line", paint: { "line-color": "#6a4c93", "line-width": 2 } }];
  }
  const areas = area(id, { fill: "#6a4c93", outline: "#6a4c93", opacity: 0.2 });
  if (type.endsWith("Polygon")) return areas;
  return [
    ...areas,
    {
      id: `${id}-line`,
      type: "line",
      filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]],
      paint: { "line-color": "#6a4c93", "line-width": 2 },
    },
    circle(`${id}-point`, { colour: "#6a4c93", filter: POINTS }),
  ];
}

// Bottom to top. Layers the catalog lists and this list does not go just below appeals.
const DRAW_ORDER = [
  "land",
  "districts",
  "yards",
  "yard_plan",
  "sports_fields",
  "playgrounds",
  "streets",
  "buildings",
  "addresses",
  "snowplough_routes",
  "bus_routes",
  "networks",
  "manholes",
  "bus_stops",
  "cameras",
];

function drawRank(name) {
  if (name === APPEALS_LAYER) return DRAW_ORDER.length + 1;
  const rank = DRAW_ORDER.indexOf(name);
  return rank === -1 ? DRAW_ORDER.length : rank;
}

function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// The source of the public layers read from the exported PMTiles archive (map.js).
export const ARCHIVE_SOURCE = "archive";

// One vector source per composite TileJSON: "public" for the layers everyone sees, "restricted"
// for the rest (present only when the catalog lists some); more sources only past 16 layers.
// With an archive ({url, layers: Set, attribution}), the public layers it holds come from it
// instead, as the one source "archive" (pmtiles://), and only the others from /tiles/.
export function sourcesFor(layers, tilesUrl, archive = null) {
  const sources = {};
  const archived = archive ? layers.filter((layer) => layer.public && archive.layers.has(layer.id)) : [];
  if (archived.length) {
    sources[ARCHIVE_SOURCE] = {
      layers: archived.map((layer) => layer.id),
      source: { type: "vector", url: `pmtiles://${archive.url}`, attribution: archive.attribution },
    };
  }
  for (const [name, group] of [
    ["public", layers.filter((layer) => layer.public && !archived.includes(layer))],
    ["restricted", layers.filter((layer) => !layer.public)],
  ]) {
    chunks(group, MAX_LAYERS_PER_SOURCE).forEach((part, i) => {
      const key = i === 0 ? name : `${name}-${i + 1}`;
      sources[key] = {
        layers: part.map((layer) => layer.id),
        source: { type: "vector", url: `${tilesUrl}${part.map((layer) => layer.id).join(",")}.json` },
      };
    });
  }
  return sources;
}

// The whole style for a catalog ({layers: [...]}); hidden is a Set of catalog layer ids, archive
// the PMTiles archive to read public layers from (sourcesFor), or null.
export function buildStyle(catalog, { tilesUrl, hidden = new Set(), archive = null }) {
  const layers = [...(catalog.layers || [])];
  const sources = sourcesFor(layers, tilesUrl, archive);
  const sourceOf = {};
  for (const [key, { layers: names }] of Object.entries(sources)) {
    for (const name of names) sourceOf[name] = key;
  }
  const styleLayers = [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }];
  layers.sort((a, b) => drawRank(a.id) - drawRank(b.id));
  for (const layer of layers) {
    const draw = DRAW[layer.id] || (() => drawGeneric(layer));
    for (const styleLayer of draw(layer)) {
      styleLayers.push({
        ...styleLayer,
        source: sourceOf[layer.id],
        "source-layer": layer.id,
        minzoom: Math.max(styleLayer.minzoom ?? 0, layer.minzoom ?? 0),
        layout: { ...styleLayer.layout, visibility: hidden.has(layer.id) ? "none" : "visible" },
        metadata: { [LAYER_KEY]: layer.id },
      });
    }
  }
  return {
    version: 8,
    name: "citygis",
    sources: Object.fromEntries(Object.entries(sources).map(([key, { source }]) => [key, source])),
    layers: styleLayers,
  };
}

// The style layer ids that draw one catalog layer.
export function styleLayerIds(style, name) {
  return style.layers.filter((layer) => layer.metadata?.[LAYER_KEY] === name).map((layer) => layer.id);
}
