// A staff page beside a map (gis/templates/gis/panel.html: /dashboard, /planning/hotspots). The
// page holds no data: everything comes from the staff-only API, with the browser's session (the
// map's login, or the admin's: session.js). This module reads the API's errors, shows the status
// line and the login form, and opens the map on our own base style.

import { format, gettext } from "./i18n.js";
import { credentialsOf, logIn } from "./session.js";
import { buildStyle } from "./style.js";

const loginForm = document.getElementById("login");

export const config = JSON.parse(document.getElementById("page-config").textContent);
export const EMPTY = { type: "FeatureCollection", features: [] };
const catalogUrl = new URL(config.catalogUrl, window.location.href).href;

// 401 or 403: the caller must log in as staff.
export class NotAllowed extends Error {}

// GET in the session; a 304 (an ETag asked in `extra`) is an answer too. Errors carry the API's
// message: NotAllowed for 401 and 403, Error otherwise.
export async function get(url, extra = {}) {
  const response = await fetch(url, { headers: extra, cache: "no-store" });
  if (response.status === 304 || response.ok) return response;
  let message = format(gettext("The server answered %(status)s."), { status: response.status });
  try {
    message = (await response.json()).error?.message || message;
  } catch {
    // Not JSON: the status says enough.
  }
  if (response.status === 401 || response.status === 403) throw new NotAllowed(message);
  throw new Error(message);
}

// The page's state (body[data-state]: loading, ready, login, error), which tests wait for, and
// the status line.
export function setState(state, message) {
  document.body.dataset.state = state;
  document.getElementById("status").textContent = message || "";
}

// The query form's filled fields as a query string.
export function queryString(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (value !== "") params.set(name, value);
  }
  return params.toString();
}

// Shown when the API refused the caller: the login form, and the results hidden.
export function askToLogIn(error) {
  loginForm.hidden = false;
  document.getElementById("results").hidden = true;
  setState("login", format(gettext("%(error)s Log in as an operator or planner."), { error: error.message }));
}

export function loggedIn() {
  loginForm.hidden = true;
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  try {
    await logIn(credentialsOf(loginForm));
  } catch (refused) {
    error.textContent = refused.message;
    error.hidden = false;
    return;
  }
  // The map's restricted layers come with the session's catalog: start again with it.
  window.location.reload();
});

async function catalog() {
  try {
    return await (await get(catalogUrl)).json();
  } catch {
    return { layers: [] };
  }
}

// The map on our base style (the caller's catalog: its restricted layers too), loaded; tests
// reach it as window[name].
export async function openMap(name) {
  const map = new maplibregl.Map({
    container: "map",
    style: buildStyle(await catalog(), { tilesUrl: catalogUrl }),
    center: config.center,
    zoom: config.zoom,
    attributionControl: { compact: false },
  });
  window[name] = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  await new Promise((resolve) => map.once("load", resolve));
  return map;
}
