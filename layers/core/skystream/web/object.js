// One object: its features (the objects row, with each column's description), the lightcurve
// per band in flux or magnitude, annotations and context rows, and the API's JSON of it all.

import { api, apiUrl } from "./api.js";
import { schema } from "./complete.js";
import { fmt, h, message, pairsTable, replace, rowsTable } from "./dom.js";
import { BAND_COLOURS, BANDS, lightcurvePlot, lightcurvePoints, magnitude, plottable } from "./plot.js";

const SUMMARY = ["ra", "decl", "glat", "nDiaSources", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai", "latestR", "tns_name"];

function lightcurveSection(points) {
  const present = BANDS.filter((b) => points.some((p) => p.band === b));
  const others = [...new Set(points.map((p) => p.band))].filter((b) => !BANDS.includes(b));
  const bands = [...present, ...others];
  const hidden = new Set();
  let mode = "flux";
  const holder = h("div", { class: "plot-holder" });
  const note = h("span", { "aria-live": "polite" });

  function draw() {
    const { shown, missing, nonPositive } = plottable(points, mode);
    const visible = shown.filter((p) => !hidden.has(p.band));
    const det = visible.filter((p) => p.kind === "det").length;
    const title = `Lightcurve in ${mode === "mag" ? "AB magnitude" : "flux"}: ${det} detection(s) and `
      + `${visible.length - det} forced photometry point(s) in bands ${bands.filter((b) => !hidden.has(b)).join(", ") || "none"}`;
    replace(holder, lightcurvePlot(shown, mode, { hidden, title }));
    const notes = [`${visible.length} point(s) drawn.`];
    if (nonPositive) notes.push(`${nonPositive} point(s) with flux ≤ 0 have no magnitude; see them in flux.`);
    if (missing) notes.push(`${missing} point(s) without a flux or time are not drawn.`);
    note.textContent = notes.join(" ");
  }

  const modes = h("fieldset", { class: "inline" }, h("legend", {}, "Show"),
    ...[["flux", "flux (nJy)"], ["mag", "magnitude (AB)"]].map(([value, text]) => h("label", {},
      h("input", { type: "radio", name: "lc-mode", value, checked: value === mode,
        onchange: () => { mode = value; draw(); } }), ` ${text}`)));
  const legend = h("fieldset", { class: "inline legend" }, h("legend", {}, "Bands"),
    ...bands.map((b) => h("label", {},
      h("input", { type: "checkbox", checked: true, "data-band": b,
        onchange: (e) => { if (e.target.checked) hidden.delete(b); else hidden.add(b); draw(); } }),
      h("span", { class: "swatch", "data-colour": b }), ` ${b} (${points.filter((p) => p.band === b).length})`)));
  for (const sw of legend.querySelectorAll(".swatch")) sw.style.background = BAND_COLOURS[sw.dataset.colour] || "#777";

  const rows = points.map((p) => {
    const { mag, magErr } = magnitude(p.flux, p.fluxErr);
    return { kind: p.kind === "det" ? "detection" : "forced", band: p.band, midpointMjdTai: p.mjd, psfFlux: p.flux,
      psfFluxErr: p.fluxErr, mag, magErr, reliability: p.reliability ?? null };
  });
  draw();
  return h("section", { "aria-labelledby": "lc-title" }, h("h2", { id: "lc-title" }, "Lightcurve"),
    points.length ? [h("div", { class: "plot-controls" }, modes, legend), holder,
      h("p", { class: "key" }, "● a detection (diaSource), □ forced photometry (diaForcedSource); bars: ±1σ. ", note),
      h("details", {}, h("summary", {}, "The lightcurve as a table"), rowsTable(rows, { caption: "Points, newest first" }))]
      : message("info", "This object has no lightcurve points stored."));
}

export async function objectView(ctx, id) {
  const [obj, tables] = await Promise.all([api("GET", `/objects/${id}`), schema().then((x) => x.tables, () => [])]);
  if (!ctx.current()) return;
  document.title = `Object ${id} · skystream`;
  const descriptions = new Map();
  for (const t of tables) for (const c of t.columns) descriptions.set(`${t.name}.${c.name}`, c.description);
  const row = obj.objects || {};
  const points = lightcurvePoints(obj.lite);

  const search = h("input", { type: "search", id: "feature-search", placeholder: "e.g. jump, g_" });
  const features = h("div");
  const drawFeatures = () => {
    const q = search.value.trim().toLowerCase();
    const pairs = Object.entries(row).filter(([k]) => !q || k.toLowerCase().includes(q)
      || (descriptions.get(`objects.${k}`) || "").toLowerCase().includes(q));
    replace(features, pairsTable(pairs, { caption: `${pairs.length} of ${Object.keys(row).length} features`,
      describe: (name) => descriptions.get(`objects.${name}`) }));
  };
  search.addEventListener("input", drawFeatures);
  drawFeatures();

  const contextTables = Object.entries(obj.context || {});
  const json = h("pre", { class: "json" });
  const jsonBox = h("details", { id: "object-json", ontoggle: (e) => { if (e.target.open && !json.textContent) json.textContent = JSON.stringify(obj, null, 2); } },
    h("summary", {}, "Show the JSON"), json);

  replace(ctx.main,
    h("div", { class: "titlebar" }, h("h1", { tabindex: "-1" }, `Object ${id}`), h("a", { href: "#/filters" }, "Filters")),
    h("dl", { class: "facts row" }, SUMMARY.filter((k) => k in row).map((k) => h("div", {},
      h("dt", { title: descriptions.get(`objects.${k}`) || null }, k), h("dd", {}, fmt(row[k]))))),
    lightcurveSection(points),
    h("section", { "aria-labelledby": "ann-title" }, h("h2", { id: "ann-title" }, "Annotations"),
      obj.annotations && obj.annotations.length ? rowsTable(obj.annotations, { caption: "Latest annotation of each annotator" })
        : h("p", { class: "empty" }, "No annotations."),
      obj.annotation_history && obj.annotation_history.length > (obj.annotations || []).length
        ? h("details", {}, h("summary", {}, `Every upload (${obj.annotation_history.length})`), rowsTable(obj.annotation_history, { caption: "Annotation uploads, newest first" }))
        : null),
    h("section", { "aria-labelledby": "ctx-title" }, h("h2", { id: "ctx-title" }, "Context"),
      contextTables.length ? contextTables.map(([table, values]) => h("div", { class: "context" }, h("h3", {}, table),
        pairsTable(Object.entries(values), { caption: table, describe: (name) => descriptions.get(`${table}.${name}`) })))
        : h("p", { class: "empty" }, "No context rows (sherlock_classifications, crossmatch_tns) for this object.")),
    h("section", { "aria-labelledby": "feat-title" }, h("h2", { id: "feat-title" }, "Features"),
      h("label", { for: "feature-search" }, "Find a feature"), search, features),
    h("section", { "aria-labelledby": "json-title" }, h("h2", { id: "json-title" }, "In the API"),
      h("ul", { class: "api-links" },
        h("li", {}, h("code", {}, `GET ${apiUrl(`/objects/${id}`)}`), " features, lightcurve, annotations, context"),
        h("li", {}, h("code", {}, `GET ${apiUrl(`/objects/${id}/annotations`)}`), " every annotation upload")),
      h("p", { class: "hint" }, "With your token: ", h("code", {}, `curl -H "Authorization: Token $TOKEN" ${apiUrl(`/objects/${id}`)}`)),
      jsonBox));
  ctx.focusTitle();
}
