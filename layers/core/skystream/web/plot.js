// The lightcurve drawn as SVG: one colour per band, detections as filled circles, forced
// photometry as open squares, error bars, in flux (nJy) or AB magnitude (31.4 - 2.5 log10 flux).
// Plain SVG elements: every point is an element with a tooltip (<title>) saying what it is.

import { s } from "./dom.js";

export const BANDS = ["u", "g", "r", "i", "z", "y"];
export const BAND_COLOURS = { u: "#6a3d9a", g: "#1b7e3c", r: "#d62728", i: "#a0522d", z: "#4d4d4d", y: "#111111" };
const MAG_ZERO_POINT = 31.4;
const MAG_ERR = 2.5 / Math.LN10; // 1.0857: d(mag) = 1.0857 d(flux) / flux

const finite = (v) => typeof v === "number" && Number.isFinite(v);

/** The lite lightcurve's points: detections and forced photometry, with what each one is. */
export function lightcurvePoints(lite) {
  const det = (lite && lite.diaSourcesList) || [];
  const forced = (lite && lite.diaForcedSourcesList) || [];
  return [
    ...det.map((p) => ({ kind: "det", band: p.band, mjd: p.midpointMjdTai, flux: p.psfFlux, fluxErr: p.psfFluxErr, reliability: p.reliability })),
    ...forced.map((p) => ({ kind: "forced", band: p.band, mjd: p.midpointMjdTai, flux: p.psfFlux, fluxErr: p.psfFluxErr })),
  ];
}

export function magnitude(flux, fluxErr) {
  if (!finite(flux) || flux <= 0) return { mag: null, magErr: null };
  return { mag: MAG_ZERO_POINT - 2.5 * Math.log10(flux), magErr: finite(fluxErr) ? MAG_ERR * fluxErr / flux : null };
}

/** Which points can be drawn in `mode` ("flux" or "mag"), with y and its error, and how many cannot and why. */
export function plottable(points, mode) {
  const shown = [];
  let missing = 0;
  let nonPositive = 0;
  for (const p of points) {
    if (!finite(p.mjd) || !finite(p.flux)) { missing += 1; continue; }
    if (mode === "mag") {
      const { mag, magErr } = magnitude(p.flux, p.fluxErr);
      if (mag === null) { nonPositive += 1; continue; }
      shown.push({ ...p, y: mag, yErr: magErr });
    } else {
      shown.push({ ...p, y: p.flux, yErr: finite(p.fluxErr) ? p.fluxErr : null });
    }
  }
  return { shown, missing, nonPositive };
}

/** About `count` round tick values covering [min, max]. */
export function ticks(min, max, count = 6) {
  const span = max - min;
  const raw = span / count;
  const magnitudeOf = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitudeOf).find((st) => span / st <= count) || 10 * magnitudeOf;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function extent(values, pad = 0.05) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

const label = (v) => (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(v));

/**
 * An <svg> of the points already passed through plottable(): x is MJD, y flux (up) or magnitude
 * (brighter up). `hidden` is a set of bands not to draw.
 */
export function lightcurvePlot(shown, mode, { hidden = new Set(), width = 860, height = 400, title = "" } = {}) {
  const m = { left: 78, right: 18, top: 16, bottom: 48 };
  const W = width - m.left - m.right;
  const H = height - m.top - m.bottom;
  const drawn = shown.filter((p) => !hidden.has(p.band));
  const svg = s("svg", { class: "plot", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title,
    "data-mode": mode, "data-points": String(drawn.length) });
  if (!drawn.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis-label" }, "No points to draw"));
    return svg;
  }
  const [x0, x1] = extent(drawn.map((p) => p.mjd), 0.03);
  const [y0, y1] = extent(drawn.flatMap((p) => (p.yErr ? [p.y - p.yErr, p.y + p.yErr] : [p.y])));
  const X = (v) => m.left + ((v - x0) / (x1 - x0)) * W;
  // Flux grows upwards; magnitude is brighter upwards, so smaller values go up.
  const Y = mode === "mag" ? (v) => m.top + ((v - y0) / (y1 - y0)) * H : (v) => m.top + H - ((v - y0) / (y1 - y0)) * H;

  const grid = s("g", { class: "grid" });
  const axes = s("g", { class: "axes" });
  for (const t of ticks(x0, x1)) {
    grid.append(s("line", { x1: X(t), x2: X(t), y1: m.top, y2: m.top + H }));
    axes.append(s("text", { x: X(t), y: m.top + H + 18, "text-anchor": "middle" }, label(t)));
  }
  for (const t of ticks(y0, y1, 5)) {
    grid.append(s("line", { x1: m.left, x2: m.left + W, y1: Y(t), y2: Y(t) }));
    axes.append(s("text", { x: m.left - 8, y: Y(t) + 4, "text-anchor": "end" }, label(t)));
  }
  if (mode === "flux" && y0 < 0 && y1 > 0) {
    grid.append(s("line", { class: "zero", x1: m.left, x2: m.left + W, y1: Y(0), y2: Y(0) }));
  }
  axes.append(s("rect", { class: "frame", x: m.left, y: m.top, width: W, height: H, fill: "none" }));
  axes.append(s("text", { class: "axis-label", x: m.left + W / 2, y: height - 8, "text-anchor": "middle" }, "MJD (TAI)"));
  axes.append(s("text", { class: "axis-label", transform: `translate(16 ${m.top + H / 2}) rotate(-90)`, "text-anchor": "middle" },
    mode === "mag" ? "AB magnitude" : "PSF flux (nJy)"));

  const errors = s("g", { class: "errors" });
  const marks = s("g", { class: "points" });
  // Forced photometry first, larger and open, so a detection at the same epoch shows as a dot inside its square.
  const ordered = [...drawn.filter((p) => p.kind !== "det"), ...drawn.filter((p) => p.kind === "det")];
  for (const p of ordered) {
    const colour = BAND_COLOURS[p.band] || "#777";
    const x = X(p.mjd);
    const y = Y(p.y);
    if (p.yErr) errors.append(s("line", { x1: x, x2: x, y1: Y(p.y - p.yErr), y2: Y(p.y + p.yErr), stroke: colour }));
    const what = `${p.band} ${p.kind === "det" ? "detection" : "forced photometry"} at MJD ${p.mjd.toFixed(4)}: `
      + (mode === "mag" ? `${p.y.toFixed(3)} ± ${p.yErr === null ? "?" : p.yErr.toFixed(3)} mag`
        : `${p.y.toFixed(1)} ± ${p.yErr === null ? "?" : p.yErr.toFixed(1)} nJy`);
    const attrs = { class: `pt ${p.kind}`, "data-band": p.band, "data-kind": p.kind };
    marks.append(p.kind === "det"
      ? s("circle", { ...attrs, cx: x, cy: y, r: 3.2, fill: colour }, s("title", {}, what))
      : s("rect", { ...attrs, x: x - 4.5, y: y - 4.5, width: 9, height: 9, fill: "none", stroke: colour, "stroke-width": 1.3 },
        s("title", {}, what)));
  }
  svg.append(grid, axes, errors, marks);
  return svg;
}
