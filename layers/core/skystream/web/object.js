// One object: its features (the objects row, with each column's description), the lightcurve
// per band in flux or magnitude, annotations and context rows, and the API's JSON of it all.

import { api, apiUrl } from "./api.js";
import { schema } from "./complete.js";
import { fmt, h, message, pairsTable, replace, rowsTable } from "./dom.js";
import { BAND_COLOURS, BANDS, lightcurvePlot, lightcurvePoints, magnitude, plottable } from "./plot.js";

const SUMMARY = ["ra", "decl", "glat", "nDiaSources", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai", "latestR", "tns_name"];

/**
 * A lightcurve with its controls (flux or magnitude, bands) and its table. `key` keeps the ids and
 * radio groups of two of them on one page apart (the lite lightcurve and the whole history's).
 */
function lightcurveSection(points, { key = "lc", heading = "Lightcurve", empty = "This object has no lightcurve points stored." } = {}) {
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
      h("input", { type: "radio", name: `${key}-mode`, value, checked: value === mode,
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
  return h("section", { "aria-labelledby": `${key}-title`, class: "lightcurve", "data-lightcurve": key },
    h("h2", { id: `${key}-title` }, heading),
    points.length ? [h("div", { class: "plot-controls" }, modes, legend), holder,
      h("p", { class: "key" }, "● a detection (diaSource), □ forced photometry (diaForcedSource); bars: ±1σ. ", note),
      h("details", {}, h("summary", {}, "The lightcurve as a table"), rowsTable(rows, { caption: "Points, newest first" }))]
      : message("info", empty));
}

/**
 * The "whole history" toggle: fetches GET /objects/{id}?history=true once, and draws every
 * detection and forced measurement the history holds beside the lite lightcurve (which carries
 * only what the latest alert brought).
 */
function historyToggle(ctx, id, liteSection) {
  const slot = h("div", { class: "history-slot", "aria-live": "polite" });
  const pair = h("div", { class: "lc-pair" }, liteSection, slot);
  let loaded = null;
  const toggle = h("input", { type: "checkbox", id: "whole-history" });
  toggle.addEventListener("change", async () => {
    pair.classList.toggle("with-history", toggle.checked);
    if (!toggle.checked) { slot.replaceChildren(); return; }
    if (loaded) { slot.replaceChildren(loaded); return; }
    toggle.disabled = true;
    replace(slot, h("p", { class: "loading" }, "Reading the history…"));
    try {
      const obj = await api("GET", `/objects/${id}?history=true`);
      if (!ctx.current()) return;
      const hist = obj.history || { detections: [], forced_photometry: [] };
      const points = lightcurvePoints({ diaSourcesList: hist.detections, diaForcedSourcesList: hist.forced_photometry });
      loaded = lightcurveSection(points, { key: "hlc", heading: "The whole history",
        empty: "The history holds no detection of this object yet (it lags the alerts by its writer's batching window)." });
      loaded.querySelector("h2").after(h("p", { class: "hint" }, `${hist.detections.length} detection(s) and ${hist.forced_photometry.length} forced `
        + "measurement(s), every alert of the object the history holds, oldest first."));
      if (toggle.checked) replace(slot, loaded);
      else slot.replaceChildren();
    } catch (err) {
      if (err.status === 401) return ctx.fail(err);
      toggle.checked = false;
      pair.classList.remove("with-history");
      replace(slot, message("error", err.message));
    } finally {
      toggle.disabled = false;
    }
  });
  liteSection.querySelector("h2").after(h("p", { class: "toggle" }, h("label", {}, toggle, " Show the whole history"),
    h("span", { class: "hint" }, ": every detection the history holds, beside this lightcurve of the latest alert")));
  return pair;
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
    historyToggle(ctx, id, lightcurveSection(points)),
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
        h("li", {}, h("code", {}, `GET ${apiUrl(`/objects/${id}?history=true`)}`), " and every detection the history holds"),
        h("li", {}, h("code", {}, `GET ${apiUrl(`/objects/${id}/annotations`)}`), " every annotation upload")),
      h("p", { class: "hint" }, "With your token: ", h("code", {}, `curl -H "Authorization: Token $TOKEN" ${apiUrl(`/objects/${id}`)}`)),
      jsonBox));
  ctx.focusTitle();
}
