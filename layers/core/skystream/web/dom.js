// Building the page's elements. Text is always set as text, never parsed as HTML, so a filter
// name, a record or an annotation written by another user can never become markup or script.

const SVG_NS = "http://www.w3.org/2000/svg";

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function build(el, attrs, children) {
  let value;
  for (const [name, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (name.startsWith("on") && typeof v === "function") el.addEventListener(name.slice(2), v);
    else if (name === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (name === "value") value = v;
    else if (name === "checked") el.checked = Boolean(v);
    else el.setAttribute(name, v === true ? "" : String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = value; // after the children: a <select> needs its options first
  return el;
}

/** An HTML element: h("a", {href: "#/x", class: "btn"}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, as h(). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A value as a short text: numbers to 8 significant digits, null as an em dash. */
export function fmt(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return String(Number(value.toPrecision(8)));
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A table of rows (objects), one column per key of the rows, in order of first appearance. */
export function rowsTable(rows, { caption, cell } = {}) {
  const columns = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption || "table" },
    h("table", { class: "data" },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) =>
        h("td", { class: typeof row[c] === "number" ? "num" : null }, cell ? cell(c, row[c], row) : fmt(row[c]))))))));
}

/** A two-column table of name -> value. */
export function pairsTable(pairs, { caption, describe } = {}) {
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption || "table" },
    h("table", { class: "data pairs" },
      caption ? h("caption", {}, caption) : null,
      h("tbody", {}, pairs.map(([name, value]) => h("tr", {},
        h("th", { scope: "row", title: describe ? describe(name) || null : null }, name),
        h("td", { class: typeof value === "number" ? "num" : null }, value instanceof Node ? value : fmt(value)),
        describe ? h("td", { class: "desc" }, describe(name) || "") : null)))));
}

export function message(kind, ...text) {
  return h("p", { class: ["msg", kind], role: kind === "error" ? "alert" : "status" }, ...text);
}
