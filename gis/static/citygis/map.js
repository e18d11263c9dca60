// The public map at /: MapLibre GL JS (served by us, window.maplibregl) over our own vector
// tiles, a layer panel, object cards and the staff login.
//
// Logging in opens a browser session (session.js: an HttpOnly cookie, never a token in the
// page); the catalog, TileJSON and tiles are then what that session may see, and the style is
// rebuilt from the catalog.
//
// The public reads its layers from the PMTiles archive the worker exports (config.pmtiles: our
// /tiles/public.pmtiles or a CDN's copy), through the pmtiles:// protocol (window.pmtiles); a
// public layer the archive lacks, every layer of a logged-in user, and everything when the archive
// cannot be read come from the live /tiles/.

import { format, gettext, language } from "./i18n.js";
import { credentialsOf, logIn as openSession, logOut as closeSession, whoAmI } from "./session.js";
import { ARCHIVE_SOURCE, LAYER_KEY, buildStyle } from "./style.js";
import { PITCH_3D, withBuildingsIn3D } from "./three_d.js";
import { WORKS_LAYER, localDay, withWorksOn } from "./works_date.js";

const config = JSON.parse(document.getElementById("citygis-config").textContent);
const tilesUrl = new URL(config.catalogUrl, window.location.href).href;

const ui = {
  status: document.getElementById("status"),
  layerList: document.getElementById("layer-list"),
  login: document.getElementById("login"),
  loggedIn: document.getElementById("logged-in"),
  who: document.getElementById("who"),
  logout: document.getElementById("logout"),
  loginError: document.getElementById("login-error"),
  freshness: document.getElementById("freshness"),
  threeD: document.getElementById("three-d"),
  worksDate: document.getElementById("works-date"),
  worksDay: document.getElementById("works-day"),
};

const state = {
  session: { authenticated: false },
  catalog: { layers: [] },
  hidden: new Set(),
  map: null,
  // The archive ({url, layers, attribution, exported}) once read; undefined: not tried yet;
  // null: none configured, or it could not be read (then the live tiles for good).
  archive: undefined,
  popup: null,
  threeD: false,
  worksDay: localDay(), // the date control's day: the works layer shows what is on then
};

async function fetchCatalog() {
  const response = await fetch(tilesUrl, { cache: "no-store" });
  if (!response.ok) throw new Error(format(gettext("The layer catalog answered %(status)s."), { status: response.status }));
  return response.json();
}

// --- the public archive ---------------------------------------------------------------------

const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);

async function openArchive() {
  if (!config.pmtiles) return null;
  const url = new URL(config.pmtiles.url, window.location.href).href;
  try {
    const archive = new pmtiles.PMTiles(url);
    const metadata = await archive.getMetadata();
    protocol.add(archive);
    return {
      url,
      layers: new Set((metadata.vector_layers || []).map((layer) => layer.id)),
      attribution: metadata.attribution,
      exported: metadata.exported || config.pmtiles.exported,
    };
  } catch (error) {
    console.warn(`citygis: cannot read the tile archive ${url} (${error.message}): live tiles instead`);
    return null;
  }
}

// The archive the style reads public layers from: none for a logged-in user (live tiles).
function archiveInUse() {
  return state.session.authenticated ? null : state.archive || null;
}

async function loadArchive() {
  if (!state.session.authenticated && state.archive === undefined) state.archive = await openArchive();
}

function renderFreshness() {
  const archive = archiveInUse();
  ui.freshness.hidden = !archive?.exported;
  ui.freshness.textContent = archive?.exported
    ? format(gettext("Map data as of %(time)s."), {
        time: new Date(archive.exported).toLocaleString(language, { dateStyle: "medium", timeStyle: "short" }),
      })
    : "";
}

// A tile or the archive's directory that fails to load (the archive gone, the CDN down): the
// live tiles from then on. Other errors are logged as MapLibre logs them without a listener.
function onMapError(event) {
  if (event.sourceId !== ARCHIVE_SOURCE || !state.archive) {
    console.error(event.error);
    return;
  }
  console.warn(`citygis: the tile archive failed (${event.error?.message}): live tiles instead`);
  state.archive = null;
  state.map.setStyle(style(), { diff: true });
  renderFreshness();
}

function showStatus(text) {
  ui.status.textContent = text;
}

function showLoginError(text) {
  ui.loginError.textContent = text;
  ui.loginError.hidden = !text;
}

function renderLogin() {
  const { authenticated, username, role } = state.session;
  ui.login.hidden = authenticated;
  ui.loggedIn.hidden = !authenticated;
  ui.who.textContent = authenticated
    ? format(gettext("Logged in as %(username)s (%(role)s)."), { username, role: gettext(role) })
    : "";
}

function renderLayerList() {
  ui.layerList.replaceChildren();
  const zoom = state.map ? state.map.getZoom() : config.zoom;
  for (const layer of state.catalog.layers) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !state.hidden.has(layer.id);
    box.dataset.layer = layer.id;
    box.addEventListener("change", () => setLayerVisible(layer.id, box.checked));
    label.append(box, ` ${layer.title}`);
    if (!layer.public) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = gettext("operators");
      label.append(" ", tag);
    }
    item.append(label);
    item.dataset.minzoom = layer.minzoom;
    item.classList.toggle("out-of-zoom", zoom < layer.minzoom);
    item.title = format(gettext("Shown from zoom %(zoom)s"), { zoom: layer.minzoom });
    ui.layerList.append(item);
  }
}

function markOutOfZoom() {
  const zoom = state.map.getZoom();
  for (const item of ui.layerList.children) {
    item.classList.toggle("out-of-zoom", zoom < Number(item.dataset.minzoom));
  }
}

function setLayerVisible(name, visible) {
  if (visible) state.hidden.delete(name);
  else state.hidden.add(name);
  for (const layer of state.map.getStyle().layers) {
    if (layer.metadata?.[LAYER_KEY] === name) {
      state.map.setLayoutProperty(layer.id, "visibility", visible ? "visible" : "none");
    }
  }
}

function style() {
  // The works layer filtered to the date control's day (works_date.js).
  const flat = withWorksOn(
    buildStyle(state.catalog, { tilesUrl, hidden: state.hidden, archive: archiveInUse() }),
    state.worksDay,
  );
  return state.threeD ? withBuildingsIn3D(flat) : flat;
}

// The 3D toggle: buildings extruded by their height and the camera tilted, or flat from above.
function setThreeD(on) {
  state.threeD = on;
  state.map.setStyle(style(), { diff: true });
  state.map.easeTo({ pitch: on ? PITCH_3D : 0 });
}

// The date control shows when the catalog has the works layer (operators and planners).
function renderWorksDate() {
  ui.worksDate.hidden = !state.catalog.layers.some((layer) => layer.id === WORKS_LAYER);
  ui.worksDay.value = state.worksDay;
}

function setWorksDay(day) {
  state.worksDay = day || localDay();
  ui.worksDay.value = state.worksDay;
  state.map.setStyle(style(), { diff: true });
}

function applyCatalog(catalog) {
  state.catalog = catalog;
  const known = new Set(catalog.layers.map((layer) => layer.id));
  for (const name of [...state.hidden]) if (!known.has(name)) state.hidden.delete(name);
  if (state.popup) state.popup.remove();
  // diff: MapLibre adds or removes only the restricted source and its layers.
  state.map.setStyle(style(), { diff: true });
  renderLayerList();
  renderLogin();
  renderWorksDate();
  renderFreshness();
}

// --- object cards ---------------------------------------------------------------------------

// An address as the city writes it (its ADDRESS_NUMBER_FIRST, as the server's lists do):
// "1200 North Avenue", "Покровский бульвар, 4/17 с6".
function address(street, housenumber) {
  if (!street || !housenumber) return street || housenumber || "";
  return config.addressNumberFirst ? `${housenumber} ${street}` : `${street}, ${housenumber}`;
}

function cardHeading(layerId, props) {
  if (props.street || props.housenumber) {
    return address(props.street, props.housenumber);
  }
  if (props.name || props.address) return props.name || props.address;
  if (props.number) return format(gettext("No. %(number)s"), { number: props.number });
  return props.ref || props.kind || layerId;
}

function formatValue(value) {
  if (typeof value === "number" && !Number.isInteger(value)) {
    return value.toLocaleString(language, { maximumFractionDigits: 2 });
  }
  return String(value);
}

function card(feature) {
  const layerId = feature.layer.metadata?.[LAYER_KEY] || feature.sourceLayer;
  const layer = state.catalog.layers.find((entry) => entry.id === layerId);
  const props = feature.properties || {};
  const root = document.createElement("div");
  root.className = "card";
  const title = document.createElement("p");
  title.className = "card-layer";
  title.textContent = layer ? layer.title : layerId;
  const heading = document.createElement("h2");
  heading.textContent = cardHeading(layerId, props);
  root.append(title, heading);
  if (props.source === "derived") {
    const badge = document.createElement("p");
    badge.className = "derived";
    badge.textContent = gettext("derived, not surveyed");
    badge.title = gettext("Computed from other data (citygis derive_layers), not surveyed on the ground.");
    root.append(badge);
  }
  const table = document.createElement("table");
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === "") continue;
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = key.replaceAll("_", " ");
    row.append(name);
    row.insertCell().textContent = formatValue(value);
  }
  if (feature.id !== undefined) {
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = "id";
    row.append(name);
    row.insertCell().textContent = String(feature.id);
  }
  root.append(table);
  return root;
}

function onClick(event) {
  const map = state.map;
  const ids = map
    .getStyle()
    .layers.filter((layer) => layer.metadata?.[LAYER_KEY] && layer.layout?.visibility !== "none")
    .map((layer) => layer.id);
  const { x, y } = event.point;
  // A few pixels of slack so that thin lines and small points can be hit.
  const [feature] = map.queryRenderedFeatures(
    [
      [x - 3, y - 3],
      [x + 3, y + 3],
    ],
    { layers: ids },
  );
  if (state.popup) state.popup.remove();
  if (!feature) return;
  state.popup = new maplibregl.Popup({ maxWidth: "320px" })
    .setLngLat(event.lngLat)
    .setDOMContent(card(feature))
    .addTo(map);
}

// --- log in / log out -----------------------------------------------------------------------

async function logIn(event) {
  event.preventDefault();
  const credentials = credentialsOf(ui.login);
  showLoginError("");
  if (!credentials.token && !(credentials.username && credentials.password)) {
    showLoginError(gettext("Enter your username and password, or your API token."));
    return;
  }
  try {
    state.session = await openSession(credentials);
  } catch (error) {
    showLoginError(
      error.status === 401
        ? format(gettext("%(error)s Check it and try again."), { error: error.message })
        : format(gettext("Could not log in: %(error)s"), { error: error.message }),
    );
    return;
  }
  ui.login.reset();
  const catalog = await fetchCatalog();
  applyCatalog(catalog);
  const added = catalog.layers.filter((layer) => !layer.public).length;
  showStatus(
    added
      ? format(gettext("Logged in: %(count)s operator layers added."), { count: added })
      : gettext("Logged in."),
  );
}

async function logOut() {
  showLoginError("");
  try {
    state.session = await closeSession();
    const catalog = await fetchCatalog();
    await loadArchive();
    applyCatalog(catalog);
    showStatus(gettext("Logged out: public layers only."));
  } catch (error) {
    showStatus(error.message);
  }
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  let catalog = { layers: [] };
  try {
    state.session = await whoAmI();
    catalog = await fetchCatalog();
  } catch (error) {
    showStatus(format(gettext("Could not load the layer list: %(error)s"), { error: error.message }));
  }
  await loadArchive();
  state.catalog = catalog;
  const map = new maplibregl.Map({
    container: "map",
    style: style(),
    center: config.center,
    zoom: config.zoom,
    hash: true,
    attributionControl: { compact: false },
  });
  state.map = map;
  window.citygisMap = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("click", onClick);
  map.on("error", onMapError);
  map.on("zoomend", markOutOfZoom);
  renderLayerList();
  renderLogin();
  renderFreshness();
  ui.threeD.addEventListener("change", () => setThreeD(ui.threeD.checked));
  renderWorksDate();
  ui.worksDay.addEventListener("change", () => setWorksDay(ui.worksDay.value));
  ui.login.addEventListener("submit", logIn);
  ui.logout.addEventListener("click", logOut);
}

start();
