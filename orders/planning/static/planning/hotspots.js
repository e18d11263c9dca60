// /planning/hotspots: break clusters on the city map, repair candidates, and the chart of breaks
// per month (an SVG the server draws), on the staff page of citygis/panel.js.

import {
  EMPTY,
  NotAllowed,
  askToLogIn,
  config,
  get,
  loggedIn,
  openMap,
  queryString,
  setState,
} from "../citygis/panel.js";
import { format, formatDay, gettext, ngettext } from "../citygis/i18n.js";

const KIND_COLOURS = {
  water: "#1f78b4",
  heat: "#e31a1c",
  sewer: "#8c510a",
  storm: "#35978f",
  gas: "#e6a100",
  power: "#9d4edd",
  telecom: "#33a02c",
  other: "#555555",
};

const ui = {
  query: document.getElementById("query"),
  kind: document.getElementById("kind"),
  results: document.getElementById("results"),
  summary: document.getElementById("summary"),
  candidates: document.querySelector("#candidates tbody"),
  clusters: document.getElementById("clusters"),
  chart: document.getElementById("chart"),
};

let map = null;

function chartParams() {
  const params = new URLSearchParams();
  for (const name of ["kind", "since", "until"]) {
    const value = ui.query.elements[name].value;
    if (value) params.set(name, value);
  }
  return params.toString();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
}

// A network kind as the page's language names it (the kinds come with the page's config).
function kindLabel(kind) {
  return config.kinds.find((k) => k.value === kind)?.label ?? kind;
}

function renderResults(data) {
  const p = data.parameters;
  const values = {
    breaks: data.incidents,
    since: formatDay(p.since),
    until: formatDay(p.until),
    appeals: data.from_appeals,
    clusters: data.clusters.features.length,
    min: p.min_points,
    radius: p.eps_m,
    apart: data.noise,
    projection: data.projection.name || gettext("metres"),
  };
  ui.summary.textContent =
    format(ngettext("%(breaks)s break %(since)s to %(until)s", "%(breaks)s breaks %(since)s to %(until)s", data.incidents), values) +
    (data.from_appeals ? format(gettext(" (%(appeals)s from appeals)"), values) : "") +
    format(gettext(": %(clusters)s clusters of ≥ %(min)s within %(radius)s m, %(apart)s breaks apart; clustered in %(projection)s."), values);
  ui.candidates.replaceChildren();
  for (const c of data.repair_candidates) {
    const row = ui.candidates.insertRow();
    cell(row, c.name || format(gettext("segment %(id)s"), { id: c.segment }));
    cell(row, kindLabel(c.kind));
    cell(row, c.owner || "—");
    cell(row, String(c.breaks), "num");
    cell(row, formatDay(c.last));
  }
  if (!data.repair_candidates.length) {
    const row = ui.candidates.insertRow();
    const td = row.insertCell();
    td.colSpan = 5;
    td.textContent = format(gettext("No segment with %(k)s or more breaks."), { k: p.k });
  }
  ui.clusters.replaceChildren();
  for (const f of data.clusters.features) {
    const c = f.properties;
    const item = document.createElement("li");
    const segments = c.segments.map((s) => s.name || format(gettext("segment %(id)s"), { id: s.id })).join(", ");
    const values = { kind: kindLabel(c.kind), breaks: c.incidents, first: formatDay(c.first), last: formatDay(c.last), radius: c.radius_m, segments };
    item.textContent =
      format(gettext("%(kind)s: %(breaks)s breaks, %(first)s to %(last)s, within %(radius)s m"), values) +
      (segments ? format(gettext(" — on %(segments)s"), values) : gettext(" — on no mapped segment"));
    item.dataset.cluster = c.cluster;
    ui.clusters.append(item);
  }
  ui.results.hidden = false;
}

function densityLayer(kind) {
  const name = `density-${kind}`;
  return kind && config.densityRasters.includes(name) ? name : null;
}

function renderMap(data) {
  const source = map.getSource("hotspots");
  source.setData(data.clusters);
  const kind = ui.kind.value;
  const raster = densityLayer(kind);
  if (map.getLayer("density")) map.removeLayer("density");
  if (map.getSource("density")) map.removeSource("density");
  if (raster) {
    map.addSource("density", {
      type: "raster",
      // A template, not a URL: new URL() would escape the braces MapLibre fills in.
      tiles: [`${window.location.origin}/tiles/raster/${raster}/{z}/{x}/{y}.png?colormap=ylorrd`],
      tileSize: 256,
    });
    map.addLayer({ id: "density", type: "raster", source: "density", paint: { "raster-opacity": 0.6 } }, "hotspots-circle");
  }
  const features = data.clusters.features;
  if (features.length) {
    const bounds = new maplibregl.LngLatBounds();
    for (const f of features) bounds.extend(f.geometry.coordinates);
    map.fitBounds(bounds, { padding: 80, maxZoom: 16, duration: 0 });
  }
}

async function renderChart() {
  const response = await get(`${config.chartUrl}?${chartParams()}`);
  const text = await response.text();
  const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  ui.chart.replaceChildren(document.importNode(svg, true));
}

async function load() {
  setState("loading", gettext("Loading…"));
  try {
    const response = await get(`${config.hotspotsUrl}?${queryString(ui.query)}`);
    const data = await response.json();
    renderResults(data);
    renderMap(data);
    await renderChart();
    loggedIn();
    setState("ready", "");
  } catch (error) {
    if (error instanceof NotAllowed) askToLogIn(error);
    else setState("error", error.message);
  }
}

async function start() {
  for (const kind of config.kinds) {
    const option = document.createElement("option");
    option.value = kind.value;
    option.textContent = kind.label;
    ui.kind.append(option);
  }
  map = await openMap("hotspotsMap");
  map.addSource("hotspots", { type: "geojson", data: EMPTY });
  const colour = ["match", ["get", "kind"], ...Object.entries(KIND_COLOURS).flat(), "#555555"];
  map.addLayer({
    id: "hotspots-circle",
    type: "circle",
    source: "hotspots",
    paint: {
      "circle-color": colour,
      "circle-opacity": 0.55,
      "circle-radius": ["interpolate", ["linear"], ["get", "incidents"], 2, 8, 20, 24, 100, 40],
      "circle-stroke-color": colour,
      "circle-stroke-width": 2,
    },
  });
  ui.query.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}

start();
