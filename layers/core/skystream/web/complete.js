// Completion of table and column names in the filter's text fields, from GET /schema.
// Keyboard first: Ctrl+Space opens the list, typing two letters of a name opens it too,
// Up/Down choose, Enter or Tab insert, Escape closes. A click inserts as well.

import { api } from "./api.js";
import { h } from "./dom.js";

let schemaPromise = null;

/** GET /schema, once per page load (it is the same for everyone). */
export function schema() {
  if (!schemaPromise) schemaPromise = api("GET", "/schema").catch((err) => { schemaPromise = null; throw err; });
  return schemaPromise;
}

/** Annotator aliases a tables text joins (annotator:NAME), which name the annotations table's columns. */
export function annotatorAliases(tablesText) {
  return [...(tablesText || "").matchAll(/annotator\s*:\s*([A-Za-z_]\w*)/gi)].map((m) => m[1]);
}

/**
 * What may complete `word`: table names (kind "tables") or qualified columns (kind "sql").
 * `aliases` are annotator names, whose columns are those of the annotations table.
 */
export function candidates(tables, word, kind, aliases = []) {
  const lower = word.toLowerCase();
  const out = [];
  if (kind === "tables") {
    for (const t of tables) {
      if (t.name === "annotations") continue;
      if (t.name.toLowerCase().startsWith(lower)) out.push({ insert: t.name, label: t.name, detail: t.description });
    }
    if ("annotator:".startsWith(lower) || lower.startsWith("annotator:")) {
      out.push({ insert: lower.startsWith("annotator:") ? word : "annotator:", label: "annotator:NAME",
        detail: "join one annotator's annotations, named NAME in the query" });
    }
    return out;
  }
  const byName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
  const annotations = byName.get("annotations");
  const dot = word.indexOf(".");
  if (dot >= 0) {
    const prefix = word.slice(0, dot);
    const table = byName.get(prefix.toLowerCase())
      || (aliases.some((a) => a.toLowerCase() === prefix.toLowerCase()) ? annotations : null);
    if (!table) return out;
    const rest = word.slice(dot + 1).toLowerCase();
    for (const c of table.columns) {
      if (c.name.toLowerCase().startsWith(rest)) {
        out.push({ insert: `${prefix}.${c.name}`, label: `${prefix}.${c.name}`, detail: `${c.type} · ${c.description}` });
      }
    }
    return out;
  }
  for (const t of tables) {
    if (t.name === "annotations") continue;
    if (t.name.toLowerCase().startsWith(lower)) out.push({ insert: `${t.name}.`, label: `${t.name}.`, detail: t.description });
  }
  for (const a of aliases) {
    if (a.toLowerCase().startsWith(lower)) out.push({ insert: `${a}.`, label: `${a}.`, detail: "an annotator you joined" });
  }
  for (const t of tables) {
    if (t.name === "annotations") continue;
    for (const c of t.columns) {
      if (c.name.toLowerCase().startsWith(lower)) {
        out.push({ insert: `${t.name}.${c.name}`, label: `${t.name}.${c.name}`, detail: `${c.type} · ${c.description}` });
      }
    }
  }
  return out;
}

const WORD = /[A-Za-z0-9_.:]*$/;
let lists = 0;

/**
 * Attach completion to a textarea or input. `source()` returns {tables, aliases}; `kind` is
 * "tables" for the FROM field and "sql" for the others.
 */
export function attachCompletion(field, kind, source) {
  const id = `complete-${++lists}`;
  const list = h("ul", { id, class: "completions", role: "listbox", hidden: true, "aria-label": "Suggestions" });
  field.after(list);
  field.setAttribute("aria-autocomplete", "list");
  field.setAttribute("aria-controls", id);
  field.setAttribute("aria-expanded", "false");
  let items = [];
  let active = -1;
  let suppressed = false;

  function close() {
    list.hidden = true;
    items = [];
    active = -1;
    field.setAttribute("aria-expanded", "false");
    field.removeAttribute("aria-activedescendant");
  }

  function currentWord() {
    const before = field.value.slice(0, field.selectionStart);
    return before.match(WORD)[0];
  }

  function open(force) {
    const { tables, aliases } = source();
    if (!tables) return close();
    const word = currentWord();
    if (!force && (word.length < 2 || suppressed)) return close();
    items = candidates(tables, word, kind, aliases).slice(0, 30);
    if (!items.length || (items.length === 1 && items[0].insert === word)) return close();
    active = 0;
    list.replaceChildren(...items.map((item, i) => h("li", {
      id: `${id}-${i}`, role: "option", "aria-selected": i === 0 ? "true" : "false",
      onmousedown: (event) => { event.preventDefault(); accept(i); },
    }, h("span", { class: "label" }, item.label), h("span", { class: "detail" }, item.detail || ""))));
    list.hidden = false;
    field.setAttribute("aria-expanded", "true");
    field.setAttribute("aria-activedescendant", `${id}-0`);
  }

  function move(step) {
    if (!items.length) return;
    list.children[active].setAttribute("aria-selected", "false");
    active = (active + step + items.length) % items.length;
    const li = list.children[active];
    li.setAttribute("aria-selected", "true");
    li.scrollIntoView({ block: "nearest" });
    field.setAttribute("aria-activedescendant", li.id);
  }

  function accept(i) {
    const item = items[i];
    const end = field.selectionStart;
    const start = end - currentWord().length;
    field.setRangeText(item.insert, start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
    close();
    field.focus();
    if (item.insert.endsWith(".") || item.insert.endsWith(":")) open(true);
  }

  field.addEventListener("keydown", (event) => {
    if (event.ctrlKey && event.code === "Space") {
      event.preventDefault();
      suppressed = false;
      open(true);
      return;
    }
    if (list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if ((event.key === "Enter" && !event.ctrlKey) || event.key === "Tab") { event.preventDefault(); accept(active); }
    else if (event.key === "Escape") { event.preventDefault(); suppressed = true; close(); }
  });
  field.addEventListener("input", (event) => {
    if (event.isTrusted === false && event.inputType === undefined) return;
    if (!/[A-Za-z0-9_.:]$/.test(field.value.slice(0, field.selectionStart))) suppressed = false;
    open(false);
  });
  field.addEventListener("blur", () => close());
  return { close };
}
