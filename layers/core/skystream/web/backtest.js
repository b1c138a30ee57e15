// A backtest's answer (POST /filters/{id}/backtest, POST /filters/backtest): what a filter would
// have matched on each of the history's newest nights. A bar per night, drawn as SVG here (no
// library): the night's alerts as a grey bar, those the filter matched filled over it, a tick at
// the flood limit (warn_share); then the numbers as a table, the warnings, and each night's sample.

import { fmt, h, message, s } from "./dom.js";

/** A share (0..1) as a percentage with one decimal, as the API's warnings write it. */
export function percent(share) {
  return `${(100 * share).toFixed(1)}%`;
}

/**
 * One bar per night, newest first as the API lists them. Bars are scaled to the busiest night's
 * total, so nights compare; the filled part is the matched alerts, red on a night above warn_share.
 */
export function backtestChart(nights, warnShare, { width = 860 } = {}) {
  const row = 30;
  const m = { left: 110, right: 230, top: 8, bottom: 8 };
  const height = m.top + m.bottom + row * nights.length;
  const W = width - m.left - m.right;
  const most = Math.max(1, ...nights.map((n) => n.total));
  const svg = s("svg", { class: "plot backtest", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Alerts matched of all alerts, per night: ${nights.map((n) => `night ${n.night} ${n.alerts} of ${n.total}`).join("; ")}`,
    "data-nights": String(nights.length) });
  nights.forEach((n, i) => {
    const y = m.top + i * row;
    const full = (n.total / most) * W;
    const over = n.share > warnShare;
    const what = `night ${n.night}: ${n.alerts} of ${n.total} alerts (${percent(n.share)}), ${n.objects} object(s)`;
    svg.append(
      s("text", { x: m.left - 8, y: y + row / 2 + 4, "text-anchor": "end", class: "axis-label" }, `night ${n.night}`),
      s("rect", { class: "bar total", x: m.left, y: y + 5, width: Math.max(full, 1), height: row - 10 }, s("title", {}, `${n.total} alerts that night`)),
      s("rect", { class: over ? "bar matched over" : "bar matched", "data-night": String(n.night), x: m.left, y: y + 5,
        width: n.alerts ? Math.max((n.alerts / most) * W, 1.5) : 0, height: row - 10 }, s("title", {}, what)),
      s("line", { class: "limit", x1: m.left + full * warnShare, x2: m.left + full * warnShare, y1: y + 2, y2: y + row - 2 },
        s("title", {}, `the flood limit: ${percent(warnShare)} of that night's alerts`)),
      s("text", { x: m.left + W + 8, y: y + row / 2 + 4, class: over ? "value over" : "value" },
        `${n.alerts} of ${n.total} (${percent(n.share)})`));
  });
  return svg;
}

/** The whole answer: the chart, the per-night numbers, the warnings highlighted, each night's sample. */
export function backtestResult(result, { nightsAsked, sampleTable }) {
  const nights = result.nights;
  const over = nights.filter((n) => n.share > result.warn_share).length;
  const matched = nights.reduce((sum, n) => sum + n.alerts, 0);
  const total = nights.reduce((sum, n) => sum + n.total, 0);
  if (!nights.length) {
    return [h("h2", {}, "Backtest"),
      message("info", "The history holds no nights yet: nothing to backtest. Alerts appear in it once the history writer has stored them.")];
  }
  const summary = `${matched} of ${total} alert(s) matched over the ${nights.length} newest night(s) the history holds`
    + (nights.length < nightsAsked ? ` (you asked for ${nightsAsked}; it holds no more)` : "")
    + `, in ${result.elapsed_s} s. The flood limit is ${percent(result.warn_share)} of a night's alerts: `
    + (over ? `exceeded on ${over} night(s).` : "not exceeded.");
  return [
    h("h2", {}, "Backtest"),
    message(over ? "warn" : "ok", summary),
    result.warnings.length ? h("ul", { class: "warnings", "aria-label": "Warnings" },
      result.warnings.map((w) => h("li", {}, w))) : null,
    h("div", { class: "plot-holder chart" }, backtestChart(nights, result.warn_share)),
    h("p", { class: "key" }, "Grey: every alert of the night (bars scaled to the busiest night); filled: those the filter matched, ",
      "red above the flood limit; the thin line marks the limit on each night."),
    h("div", { class: "scroll" }, h("table", { class: "data backtest" },
      h("caption", {}, "Per night, newest first"),
      h("thead", {}, h("tr", {}, ["Night", "Alerts matched", "Objects", "Alerts in all", "Share"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, nights.map((n) => h("tr", { "data-night": String(n.night), class: n.share > result.warn_share ? "over" : null },
        h("th", { scope: "row" }, String(n.night)),
        h("td", { class: "num", "data-col": "alerts" }, fmt(n.alerts)),
        h("td", { class: "num", "data-col": "objects" }, fmt(n.objects)),
        h("td", { class: "num", "data-col": "total" }, fmt(n.total)),
        h("td", { class: "num", "data-col": "share" }, percent(n.share))))))),
    nights.map((n) => h("details", { class: "sample", "data-night": String(n.night), open: n === nights[0] && n.sample.length > 0 },
      h("summary", {}, `Night ${n.night}: ${n.sample.length} sample row(s)`),
      n.sample.length ? sampleTable(n.sample, `Sample of night ${n.night}`)
        : h("p", { class: "empty" }, "Nothing matched that night."))),
  ];
}
