// /planning/hotspots: break clusters on the city map, repair candidates, and the chart of breaks
// per month (an SVG the server draws). The page itself holds no data: everything comes from the
// staff-only API, with the token the main map keeps in localStorage (or an admin session).

import { buildStyle } from "../citygis/style.js";

const TOKEN_KEY = "citygis.token";
const config = JSON.parse(document.getElementById("planning-config").textContent);
const catalogUrl = new URL(config.catalogUrl, window.location.href).href;
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
const EMPTY = { type: "FeatureCollection", features: [] };

const ui = {
  body: document.body,
  query: document.getElementById("query"),
  kind: document.getElementById("kind"),
  status: document.getElementById("status"),
  login: document.getElementById("login"),
  token: document.getElementById("token"),
  results: document.getElementById("results"),
  summary: document.getElementById("summary"),
  candidates: document.querySelector("#candidates tbody"),
  clusters: document.getElementById("clusters"),
  chart: document.getElementById("chart"),
};

let token = window.localStorage.getItem(TOKEN_KEY);
let map = null;

class NotAllowed extends Error {}

function headers() {
  return token ? { Authorization: `Token ${token}` } : {};
}

function isOurs(url) {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

async function get(url) {
  const response = await fetch(url, { headers: headers(), cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    let message = "";
    try {
      message = (await response.json()).error?.message || "";
    } catch {
      // Not JSON: the status says enough.
    }
    throw new NotAllowed(message || `The server answered ${response.status}.`);
  }
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try {
      message = (await response.json()).error?.message || message;
    } catch {
      // Keep the status.
    }
    throw new Error(message);
  }
  return response;
}

function setState(state, message) {
  ui.body.dataset.state = state;
  ui.status.textContent = message || "";
}

function queryString() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(ui.query)) {
    if (value !== "") params.set(name, value);
  }
  return params.toString();
}

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

function renderResults(data) {
  const p = data.parameters;
  ui.summary.textContent =
    `${data.incidents} breaks ${p.since} to ${p.until}` +
    (data.from_appeals ? ` (${data.from_appeals} from appeals)` : "") +
    `: ${data.clusters.features.length} clusters of ≥ ${p.min_points} within ${p.eps_m} m, ` +
    `${data.noise} breaks apart; clustered in ${data.projection.name || "metres"}.`;
  ui.candidates.replaceChildren();
  for (const c of data.repair_candidates) {
    const row = ui.candidates.insertRow();
    cell(row, c.name || `segment ${c.segment}`);
    cell(row, c.kind);
    cell(row, c.owner || "—");
    cell(row, String(c.breaks), "num");
    cell(row, c.last);
  }
  if (!data.repair_candidates.length) {
    const row = ui.candidates.insertRow();
    const td = row.insertCell();
    td.colSpan = 5;
    td.textContent = `No segment with ${p.k} or more breaks.`;
  }
  ui.clusters.replaceChildren();
  for (const f of data.clusters.features) {
    const c = f.properties;
    const item = document.createElement("li");
    const segments = c.segments.map((s) => s.name || `segment ${s.id}`).join(", ");
    item.textContent =
      `${c.kind}: ${c.incidents} breaks, ${c.first} to ${c.last}, within ${c.radius_m} m` +
      (segments ? ` — on ${segments}` : " — on no mapped segment");
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
  setState("loading", "Loading…");
  try {
    const response = await get(`${config.hotspotsUrl}?${queryString()}`);
    const data = await response.json();
    renderResults(data);
    renderMap(data);
    await renderChart();
    ui.login.hidden = true;
    setState("ready", "");
  } catch (error) {
    if (error instanceof NotAllowed) {
      ui.login.hidden = false;
      ui.results.hidden = true;
      setState("login", `${error.message} Log in with an operator's or planner's token.`);
    } else {
      setState("error", error.message);
    }
  }
}

async function catalog() {
  try {
    return await (await get(catalogUrl)).json();
  } catch {
    return { layers: [] };
  }
}

async function start() {
  for (const kind of config.kinds) {
    const option = document.createElement("option");
    option.value = kind.value;
    option.textContent = kind.label;
    ui.kind.append(option);
  }
  const style = buildStyle(await catalog(), { tilesUrl: catalogUrl });
  map = new maplibregl.Map({
    container: "map",
    style,
    center: config.center,
    zoom: config.zoom,
    attributionControl: { compact: false },
    transformRequest: (url) => (token && isOurs(url) ? { url, headers: headers() } : undefined),
  });
  window.hotspotsMap = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  await new Promise((resolve) => map.once("load", resolve));
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
  ui.login.addEventListener("submit", (event) => {
    event.preventDefault();
    const candidate = ui.token.value.trim();
    if (!candidate) return;
    token = candidate;
    window.localStorage.setItem(TOKEN_KEY, candidate);
    // The map's restricted layers come with the token's catalog: start again with it.
    window.location.reload();
  });
  await load();
}

start();
