// The works on a date: a MapLibre filter on the "works" layer (orders.operations), so that the
// map shows what is dug up or repaired on the day the date control says.
//
// Tiles carry each work's period as ISO dates (starts_on, ends_on), so strings compare as dates,
// and whether it is ongoing (an open permit, a yard or repair in progress). A work is shown on
// day D when (orders/operations/works.py, the same rule as GET /api/works):
//   1. starts_on <= D <= ends_on; or
//   2. it is ongoing and starts_on <= D <= today (not closed: still on the ground past its end);
//   3. or it is in progress and D is today (started before its planned start).
// The tiles never depend on the day they were made: "today" is applied here.

import { LAYER_KEY } from "./style.js";

export const WORKS_LAYER = "works";

// The browser's calendar day as YYYY-MM-DD.
export function localDay(date = new Date()) {
  return date.toLocaleDateString("en-CA");
}

export function worksFilter(day, today = localDay()) {
  const starts = ["to-string", ["get", "starts_on"]];
  const ends = ["to-string", ["get", "ends_on"]];
  const rules = [["all", ["<=", starts, day], [">=", ends, day]]];
  if (day <= today) rules.push(["all", ["==", ["get", "ongoing"], true], ["<=", starts, day]]);
  if (day === today) rules.push(["==", ["get", "status"], "in_progress"]);
  return ["any", ...rules];
}

// The style with every style layer of the works layer filtered to the day (its own filter kept).
export function withWorksOn(style, day, today = localDay()) {
  const filter = worksFilter(day, today);
  return {
    ...style,
    layers: style.layers.map((layer) =>
      layer.metadata?.[LAYER_KEY] === WORKS_LAYER
        ? { ...layer, filter: layer.filter ? ["all", layer.filter, filter] : filter }
        : layer,
    ),
  };
}
