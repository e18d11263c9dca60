// /dashboard: the appeals figures of a period, a chart of the daily series, tables by service,
// category and district, and the districts shaded by overdue appeals, on the staff page of
// citygis/panel.js. It polls GET /api/dashboard with the last ETag; an unchanged dashboard
// answers 304. The repeated problems (GET /api/problems/repeated, its defaults: 36 months, at
// least 3 appeals) are fetched again whenever the dashboard changed, listed and drawn as circles
// sized by their appeals.

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
import { format, formatDay, gettext, language, ngettext } from "../citygis/i18n.js";

const SVG = "http://www.w3.org/2000/svg";
// Not "districts": the base style has a source of that name (the districts tile layer).
const DISTRICTS = "dashboard-districts";
const DISTRICTS_FILL = `${DISTRICTS}-fill`;
const PROBLEMS = "dashboard-problems";
const PROBLEMS_SHOWN = 15;
const FIGURES = ["received", "done", "archived", "reopened", "open", "in_work", "overdue", "median_hours_to_close"];
const COLUMNS = [
  ["received", gettext("Recv.")],
  ["done", gettext("Done")],
  ["in_work", gettext("In work")],
  ["overdue", gettext("Overdue")],
  ["median_hours_to_close", gettext("Median h")],
];

const ui = {
  query: document.getElementById("query"),
  district: document.getElementById("district"),
  organisation: document.getElementById("organisation"),
  results: document.getElementById("results"),
  period: document.getElementById("period"),
  chart: document.getElementById("chart"),
  problems: document.getElementById("problems"),
};

let map = null;
let etag = null;
let shownQuery = null;
let districts = EMPTY;
let timer = null;
let busy = false;

function show(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "number" ? value.toLocaleString(language) : String(value);
}

function renderFigures(totals) {
  for (const name of FIGURES) {
    const dd = document.querySelector(`[data-figure="${name}"]`);
    dd.textContent = show(totals[name]);
    dd.dataset.value = totals[name] === null ? "" : String(totals[name]);
  }
}

function renderTable(id, rows, label) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const text of [label, ...COLUMNS.map(([, title]) => title)]) {
    const th = document.createElement("th");
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.dataset.id = row.id === null ? "none" : String(row.id);
    tr.insertCell().textContent = row.name;
    for (const [name] of COLUMNS) {
      const td = tr.insertCell();
      td.className = "num";
      td.dataset.figure = name;
      td.textContent = show(row[name]);
    }
  }
  if (!rows.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = COLUMNS.length + 1;
    td.textContent = gettext("No appeals.");
  }
}

function svg(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// Received per day as bars, done per day as a line over them; days without appeals are zero bars.
function renderChart(series) {
  const width = Math.max(ui.chart.clientWidth, 300);
  const height = 180;
  const pad = { left: 36, right: 10, top: 22, bottom: 22 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const top = Math.max(1, ...series.map((d) => Math.max(d.received, d.done)));
  const step = plotW / Math.max(series.length, 1);
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("title", {}, gettext("Appeals received (bars) and done (line) per day")));
  chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }));
  chart.append(svg("text", { x: pad.left - 4, y: y(top) + 4, class: "label end" }, String(top)));
  chart.append(svg("text", { x: pad.left - 4, y: y(0) + 4, class: "label end" }, "0"));
  series.forEach((d, i) => {
    const bar = svg("rect", {
      class: "bar",
      x: pad.left + i * step + step * 0.1,
      y: y(d.received),
      width: Math.max(step * 0.8, 1),
      height: y(0) - y(d.received),
      "data-day": d.day,
      "data-count": d.received,
    });
    bar.append(svg("title", {}, `${d.day}: ${d.received} received, ${d.done} done`));
    chart.append(bar);
  });
  const points = series.map((d, i) => `${pad.left + (i + 0.5) * step},${y(d.done)}`).join(" ");
  chart.append(svg("polyline", { class: "done", points }));
  series.forEach((d, i) => {
    chart.append(svg("circle", { class: "done", cx: pad.left + (i + 0.5) * step, cy: y(d.done), r: 2, "data-day": d.day, "data-count": d.done }));
  });
  if (series.length) {
    chart.append(svg("text", { x: pad.left, y: height - 6, class: "label" }, series[0].day));
    chart.append(svg("text", { x: width - pad.right, y: height - 6, class: "label end" }, series.at(-1).day));
  }
  chart.append(svg("rect", { x: pad.left, y: 4, width: 10, height: 10, class: "bar key" }));
  chart.append(svg("text", { x: pad.left + 14, y: 13, class: "label" }, "received"));
  chart.append(svg("line", { x1: pad.left + 90, x2: pad.left + 104, y1: 9, y2: 9, class: "done key" }));
  chart.append(svg("text", { x: pad.left + 108, y: 13, class: "label" }, "done"));
  ui.chart.replaceChildren(chart);
}

function addOptions(select, rows) {
  const known = new Map([...select.options].map((o) => [o.value, o]));
  for (const row of rows) {
    if (row.id === null) continue;
    const option = known.get(String(row.id)) || document.createElement("option");
    option.value = String(row.id);
    option.textContent = row.name;
    if (!option.parentNode) select.append(option);
  }
}

// A bookmarked query: /dashboard?from=2026-01-01&to=2026-01-31&district=3
function queryFromLocation() {
  const params = new URLSearchParams(window.location.search);
  for (const name of ["from", "to", "district", "organisation"]) {
    const value = params.get(name);
    const field = ui.query.elements[name];
    if (!value || !field) continue;
    if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === value)) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = `#${value}`;
      field.append(option);
    }
    field.value = value;
  }
}

// The district figures of the last dashboard onto the district outlines; the fill follows overdue.
function renderMap(byDistrict) {
  if (!map || !map.getSource(DISTRICTS)) return;
  const figures = new Map(byDistrict.filter((r) => r.id !== null).map((r) => [r.id, r]));
  const features = districts.features.map((f) => ({
    ...f,
    properties: { ...f.properties, ...Object.fromEntries(FIGURES.map((n) => [n, figures.get(f.id)?.[n] ?? 0])) },
  }));
  map.getSource(DISTRICTS).setData({ type: "FeatureCollection", features });
  const top = Math.max(1, ...features.map((f) => f.properties.overdue));
  map.setPaintProperty(DISTRICTS_FILL, "fill-color", [
    "interpolate", ["linear"], ["get", "overdue"], 0, "#fff7ec", top, "#b30000",
  ]);
}

async function loadDistricts(query) {
  districts = await (await get(`${config.districtsUrl}?${query}`)).json();
  addOptions(ui.district, districts.features.map((f) => f.properties));
  if (districts.features.length && map) {
    const bounds = new maplibregl.LngLatBounds();
    for (const f of districts.features) {
      for (const polygon of f.geometry.coordinates) for (const point of polygon[0]) bounds.extend(point);
    }
    map.fitBounds(bounds, { padding: 30, duration: 0 });
  }
}

function render(data) {
  ui.period.textContent = format(gettext("%(from)s to %(to)s"), { from: formatDay(data.from), to: formatDay(data.to) });
  renderFigures(data.totals);
  renderTable("by-organisation", data.by_organisation, gettext("Service"));
  renderTable("by-category", data.by_category, gettext("Category"));
  renderTable("by-district", data.by_district, gettext("District"));
  addOptions(ui.organisation, data.by_organisation);
  renderChart(data.series);
  renderMap(data.by_district);
  window.dashboardData = data;
  document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
  ui.results.hidden = false;
}

function percent(share) {
  return `${Math.round(share * 100)} %`;
}

// The systemic problems: the most appealed-about objects and places, with what is still open.
function renderProblems(problems) {
  const items = problems.features.slice(0, PROBLEMS_SHOWN).map((f) => {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.appeals = String(p.appeals);
    const categories = (p.categories || []).map((c) => `${c.category} ${c.appeals}`).join(", ");
    li.textContent = format(
      ngettext(
        "%(label)s: %(count)s appeal (%(categories)s), %(first)s to %(last)s, %(open)s open",
        "%(label)s: %(count)s appeals (%(categories)s), %(first)s to %(last)s, %(open)s open",
        p.appeals,
      ),
      {
        label: p.label,
        count: p.appeals,
        categories,
        first: formatDay(p.first_date),
        last: formatDay(p.last_date),
        open: percent(p.open_share),
      },
    );
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = gettext("None.");
    items.push(li);
  }
  ui.problems.replaceChildren(...items);
  if (map && map.getSource(PROBLEMS)) map.getSource(PROBLEMS).setData(problems);
  window.dashboardProblems = problems;
}

async function loadProblems() {
  try {
    const answer = await (await get(config.problemsUrl)).json();
    renderProblems(answer.problems);
  } catch (error) {
    if (error instanceof NotAllowed) throw error;
    ui.problems.replaceChildren(Object.assign(document.createElement("li"), { textContent: error.message }));
  }
}

// One round: the dashboard if it changed since the last ETag (the districts too on a new query).
async function refresh() {
  if (busy) return;
  busy = true;
  const query = queryString(ui.query);
  try {
    const fresh = query !== shownQuery;
    const response = await get(`${config.dashboardUrl}?${query}`, !fresh && etag ? { "If-None-Match": etag } : {});
    if (response.status !== 304) {
      if (fresh) await loadDistricts(query);
      render(await response.json());
      await loadProblems();
      etag = response.headers.get("ETag");
      shownQuery = query;
    }
    loggedIn();
    setState(
      "ready",
      format(gettext("Updated %(time)s; checking every %(seconds)s s."), {
        time: new Date().toLocaleTimeString(language === "en" ? "en-GB" : language),
        seconds: config.pollSeconds,
      }),
    );
  } catch (error) {
    if (error instanceof NotAllowed) {
      stopPolling();
      askToLogIn(error);
    } else {
      setState("error", error.message);
    }
  } finally {
    busy = false;
  }
}

function stopPolling() {
  if (timer !== null) window.clearInterval(timer);
  timer = null;
}

function startPolling() {
  stopPolling();
  timer = window.setInterval(refresh, config.pollSeconds * 1000);
}

async function start() {
  queryFromLocation();
  ui.query.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  map = await openMap("dashboardMap");
  map.addSource(DISTRICTS, { type: "geojson", data: EMPTY, promoteId: "id" });
  map.addLayer({
    id: DISTRICTS_FILL,
    type: "fill",
    source: DISTRICTS,
    paint: { "fill-color": "#fff7ec", "fill-opacity": 0.6 },
  });
  map.addLayer({
    id: `${DISTRICTS}-line`,
    type: "line",
    source: DISTRICTS,
    paint: { "line-color": "#7f0000", "line-width": 1.5 },
  });
  map.addSource(PROBLEMS, { type: "geojson", data: EMPTY });
  map.addLayer({
    id: `${PROBLEMS}-circle`,
    type: "circle",
    source: PROBLEMS,
    paint: {
      "circle-color": "#222222",
      "circle-opacity": 0.7,
      "circle-radius": ["interpolate", ["linear"], ["get", "appeals"], 3, 5, 30, 16],
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 1,
    },
  });
  await refresh();
  if (document.body.dataset.state !== "login") startPolling();
}

start();
