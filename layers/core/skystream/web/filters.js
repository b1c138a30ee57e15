// Filters: the list (yours and the public ones), and the editor: write a filter in Lasair's three
// parts or as one SQL statement with the schema at hand, run it now, save it, delete it, copy a
// public one. The checker's refusals are shown under the field they point at, with the line.

import { api, ApiError } from "./api.js";
import { backtestResult } from "./backtest.js";
import { annotatorAliases, attachCompletion, schema } from "./complete.js";
import { fmt, h, message, replace, rowsTable } from "./dom.js";

const OUTPUTS = [
  ["none", "none: runs, sends nothing (use Run now)"],
  ["email", "email: a daily digest of the matches"],
  ["kafka_plain", "kafka_plain: the selected columns on a Kafka topic"],
  ["kafka_lite", "kafka_lite: + a light lightcurve"],
  ["kafka_full", "kafka_full: + the whole alert"],
];
const RUN_LIMIT = 100;
const MAX_NIGHTS = 30; // the API's bound of a backtest (MAX_BACKTEST_NIGHTS)

const isKafka = (output) => output && output.startsWith("kafka");

function triggers(f) {
  const on = [f.on_alert && "alert", f.on_annotation && "annotation"].filter(Boolean);
  return on.length ? `on ${on.join(" and ")}` : "inactive";
}

function objectLink(value) {
  return value === null || value === undefined ? "—" : h("a", { href: `#/objects/${value}` }, String(value));
}

/** A run's rows: the diaObjectId column links to the object's page. */
export function resultsTable(rows, caption) {
  return rowsTable(rows, {
    caption,
    cell: (column, value) => (column === "diaObjectId" ? objectLink(value) : fmt(value)),
  });
}

// -- the list --------------------------------------------------------------------------------

export async function filterList(ctx, note) {
  const { filters } = await api("GET", "/filters");
  if (!ctx.current()) return;
  const mine = filters.filter((f) => f.owner === ctx.me.user_id);
  const others = filters.filter((f) => f.owner !== ctx.me.user_id);
  document.title = "Filters · skystream";
  const status = h("div", { class: "status", "aria-live": "polite" }, note ? message("ok", note) : null);

  async function remove(f) {
    if (!window.confirm(`Delete filter "${f.name}"${f.topic ? ` and its topic ${f.topic}` : ""}? This cannot be undone.`)) return;
    try {
      const out = await api("DELETE", `/filters/${f.filter_id}`);
      await filterList(ctx, `Deleted filter "${f.name}"` + (out.topic_deleted ? ` and its topic ${out.topic_deleted}.` : "."));
      ctx.focusTitle();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return ctx.fail(err);
      replace(status, message("error", err.message));
    }
  }

  const row = (f, own) => h("tr", { "data-filter": f.filter_id },
    h("th", { scope: "row" }, h("a", { href: `#/filters/${f.filter_id}` }, f.name),
      f.description ? h("div", { class: "desc" }, f.description) : null),
    own ? null : h("td", { class: "num" }, String(f.owner)),
    h("td", {}, f.output),
    h("td", {}, f.suspended ? h("span", { class: "bad", title: f.suspended.reason }, "suspended") : triggers(f)),
    h("td", {}, f.topic ? h("code", {}, f.topic) : "—"),
    h("td", {}, (f.modified || "").replace("T", " ").replace("+00:00", " UTC")),
    h("td", { class: "actions" },
      h("a", { href: `#/filters/${f.filter_id}` }, own ? "Edit" : "View"),
      f.topic ? h("a", { href: `#/filters/${f.filter_id}/stream` }, "Stream") : null,
      own ? null : h("a", { href: `#/filters/${f.filter_id}/copy` }, "Copy"),
      own ? h("button", { type: "button", class: "link danger", onclick: () => remove(f) }, "Delete") : null));

  const table = (list, own, caption) => (list.length
    ? h("div", { class: "scroll" }, h("table", { class: "data filters" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), own ? null : h("th", { scope: "col" }, "Owner"),
        h("th", { scope: "col" }, "Output"), h("th", { scope: "col" }, "Runs"), h("th", { scope: "col" }, "Topic"),
        h("th", { scope: "col" }, "Modified"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, list.map((f) => row(f, own)))))
    : h("p", { class: "empty" }, own ? "You have no filters yet." : "No other user has a public filter."));

  replace(ctx.main,
    h("div", { class: "titlebar" }, h("h1", { tabindex: "-1" }, "Filters"),
      h("a", { class: "button primary", href: "#/filters/new" }, "New filter")),
    status,
    h("section", { "aria-labelledby": "mine-title" }, h("h2", { id: "mine-title" }, "Your filters"),
      table(mine, true, `${mine.length} filter(s) of yours`)),
    h("section", { "aria-labelledby": "public-title" }, h("h2", { id: "public-title" }, "Public filters of other users"),
      h("p", { class: "hint" }, "You may run them and watch their streams; to change one, copy it into a filter of your own."),
      table(others, false, `${others.length} public filter(s)`)));
  ctx.focusTitle();
}

// -- the editor ------------------------------------------------------------------------------

/** Where a refusal points: the line of `text` holding `position`, and the column. */
export function pointAt(text, position) {
  const lineStart = text.lastIndexOf("\n", position - 1) + 1;
  const lineEnd = text.indexOf("\n", position);
  const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
  const column = position - lineStart;
  const token = text.slice(position).match(/^[\w.:$]+/);
  return { line, column, lineNumber: text.slice(0, position).split("\n").length, length: token ? token[0].length : 1 };
}

const CLAUSE_FIRST = /^\s*(ORDER\s+BY|LIMIT)\b/i; // conditions may be only ORDER BY / LIMIT (no WHERE then)

/** A simple SELECT as the three parts; null when it is not that simple (the server splits it on save). */
function splitSql(sql) {
  const m = sql.match(/^\s*SELECT\s+([\s\S]*?)\s+FROM\s+([\s\S]*?)(?:\s+WHERE\s+([\s\S]*?))?\s*;?\s*$/i);
  if (!m || /\b(JOIN|SELECT|ORDER|LIMIT|AS)\b|--|\/\*|#/i.test(m[2])) return null;
  return { selected: m[1], tables: m[2], conditions: m[3] || "" };
}

function joinSql(selected, tables, conditions) {
  const cond = conditions.trim();
  return `SELECT ${selected.trim()}\nFROM ${tables.trim()}` + (cond ? (CLAUSE_FIRST.test(cond) ? `\n${cond}` : `\nWHERE ${cond}`) : "");
}

export async function filterEditor(ctx, { id, copyOf }) {
  const [tablesOrError, stored] = await Promise.all([
    schema().then((s) => s.tables, (err) => err),
    id || copyOf ? api("GET", `/filters/${id || copyOf}`) : Promise.resolve(null),
  ]);
  if (!ctx.current()) return;
  const tables = Array.isArray(tablesOrError) ? tablesOrError : null;
  const own = !stored || (id && stored.owner === ctx.me.user_id);
  const readOnly = Boolean(id && !own);
  let current = id ? stored : null; // the saved filter being edited (its version goes with a save)
  const start = stored ? { ...stored } : {
    name: "", description: "", selected: "objects.diaObjectId, objects.ra, objects.decl", tables: "objects",
    conditions: "", output: "none", on_alert: false, on_annotation: false, public: false, byte_quota: 104857600,
  };
  if (copyOf) {
    start.name = `Copy of ${stored.name}`.slice(0, 200);
    start.public = false;
  }

  const title = readOnly ? `Filter "${stored.name}"` : id ? `Edit filter "${stored.name}"` : copyOf ? `Copy of "${stored.name}"` : "New filter";
  document.title = `${title} · skystream`;

  const field = (name, label, control, help) => h("div", { class: "field", "data-field": name },
    h("label", { for: `f-${name}` }, label), help ? h("div", { class: "hint", id: `f-${name}-help` }, help) : null,
    control, h("div", { class: "field-error", id: `f-${name}-error`, "aria-live": "polite" }));
  const text = (name, value, attrs = {}) => h("textarea", {
    id: `f-${name}`, name, spellcheck: "false", autocapitalize: "off", autocomplete: "off", class: "code",
    "aria-describedby": `f-${name}-help f-${name}-error`, readonly: readOnly, ...attrs, value: value || "",
  });

  const form = h("form", { class: "editor", novalidate: true, "aria-labelledby": "editor-title" });
  const nameInput = h("input", { id: "f-name", name: "name", value: start.name, maxlength: "200", required: true,
    readonly: readOnly, "aria-describedby": "f-name-help f-name-error" });
  const description = h("textarea", { id: "f-description", name: "description", rows: "2", readonly: readOnly,
    value: start.description || "" });
  const selected = text("selected", start.selected, { rows: "2" });
  const tablesField = text("tables", start.tables, { rows: "1" });
  const conditions = text("conditions", start.conditions, { rows: "4" });
  const sql = text("sql", "", { rows: "10" });
  const output = h("select", { id: "f-output", name: "output", disabled: readOnly, value: start.output },
    OUTPUTS.map(([value, label]) => h("option", { value }, label)));
  const onAlert = h("input", { type: "checkbox", id: "f-on_alert", checked: start.on_alert, disabled: readOnly });
  const onAnnotation = h("input", { type: "checkbox", id: "f-on_annotation", checked: start.on_annotation, disabled: readOnly });
  const isPublic = h("input", { type: "checkbox", id: "f-public", checked: start.public, disabled: readOnly });
  const quota = h("input", { type: "number", id: "f-byte_quota", min: "0", step: "1", value: String(start.byte_quota ?? 104857600),
    disabled: readOnly, "aria-describedby": "f-byte_quota-error" });
  const modeParts = h("input", { type: "radio", name: "mode", id: "mode-parts", value: "parts", checked: true });
  const modeSql = h("input", { type: "radio", name: "mode", id: "mode-sql", value: "sql" });

  const partsBox = h("div", { class: "parts" },
    field("selected", "SELECT", selected, "The columns each match returns, e.g. objects.diaObjectId, objects.ra"),
    field("tables", "FROM", tablesField, "Tables: objects, sherlock_classifications, crossmatch_tns, annotator:NAME"),
    field("conditions", "WHERE", conditions, "The conditions, without the word WHERE (may end with ORDER BY / LIMIT)"));
  const sqlBox = h("div", { class: "sqlbox", hidden: true },
    field("sql", "SQL", sql, "One statement: SELECT ... FROM ... WHERE ... (saved as the three parts)"));

  const formError = h("div", { class: "form-error", "aria-live": "assertive" });
  const outcome = h("section", { class: "outcome", "aria-live": "polite", "aria-label": "Result" });
  const streamLink = h("a", { class: "button", href: id ? `#/filters/${id}/stream` : "#", hidden: !(current && current.topic) }, "Watch its stream");
  const runButton = h("button", { type: "button", id: "run", title: "Ctrl+Enter" }, "Run now");
  const overRecent = h("input", { type: "radio", name: "over", id: "over-recent", value: "recent", checked: true });
  const overAll = h("input", { type: "radio", name: "over", id: "over-all", value: "all" });
  const backtestButton = h("button", { type: "button", id: "backtest" }, "Backtest");
  const nightsInput = h("input", { type: "number", id: "bt-nights", min: "1", max: String(MAX_NIGHTS), step: "1", value: "3",
    class: "small", "aria-describedby": "bt-help" });
  const saveButton = h("button", { type: "submit", id: "save", class: "primary", title: "Ctrl+S", hidden: readOnly },
    id ? "Save changes" : "Save");
  const deleteButton = h("button", { type: "button", class: "danger", hidden: !(id && own) }, "Delete");
  const copyLink = h("a", { class: "button", href: `#/filters/${id}/copy`, hidden: !readOnly }, "Copy into a filter of mine");

  let lastFocused = selected;
  const sqlFields = { selected, tables: tablesField, conditions, sql };
  const source = () => ({ tables, aliases: annotatorAliases(mode() === "sql" ? sql.value : tablesField.value) });
  if (tables) {
    attachCompletion(selected, "sql", source);
    attachCompletion(conditions, "sql", source);
    attachCompletion(sql, "sql", source);
    attachCompletion(tablesField, "tables", source);
  }
  for (const f of Object.values(sqlFields)) f.addEventListener("focus", () => { lastFocused = f; });
  // A message about text the user has since changed would point at the wrong place: it goes with the edit.
  for (const f of [nameInput, quota, ...Object.values(sqlFields)]) {
    f.addEventListener("input", () => {
      if (!f.hasAttribute("aria-invalid")) return;
      f.removeAttribute("aria-invalid");
      form.querySelector(`#${f.id}-error`).replaceChildren();
    });
  }

  function mode() { return modeSql.checked ? "sql" : "parts"; }

  function setMode(next) {
    clearErrors();
    if (next === "sql") {
      sql.value = joinSql(selected.value, tablesField.value, conditions.value);
      modeSql.checked = true;
    } else {
      const parts = splitSql(sql.value);
      if (!parts) {
        modeSql.checked = true;
        showFieldError("sql", "This statement cannot be split into the three parts here (it joins or nests); "
          + "save or run it as SQL, and the saved filter will show its three parts.", null);
        return;
      }
      selected.value = parts.selected;
      tablesField.value = parts.tables;
      conditions.value = parts.conditions;
      modeParts.checked = true;
    }
    partsBox.hidden = next === "sql";
    sqlBox.hidden = next !== "sql";
    (next === "sql" ? sql : selected).focus();
  }
  modeParts.addEventListener("change", () => setMode("parts"));
  modeSql.addEventListener("change", () => setMode("sql"));

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) el.replaceChildren();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    formError.replaceChildren();
  }

  /** The message under the field, with the line it points at and a caret under the place. */
  function showFieldError(name, detail, position) {
    const control = form.querySelector(`#f-${name}`);
    const slot = form.querySelector(`#f-${name}-error`);
    if (!control || !slot) return false;
    const children = [h("p", { class: "msg error", role: "alert" }, detail)];
    if (position !== null && position !== undefined && control.value !== undefined) {
      // The API trims each field: its positions count from the first character that is not white space.
      const lead = control.value.length - control.value.trimStart().length;
      const at = Math.min(control.value.length, position + lead);
      const where = pointAt(control.value, at);
      children.push(h("pre", { class: "pointer", "aria-label": `at line ${where.lineNumber}, column ${where.column + 1}` },
        where.line + "\n" + " ".repeat(where.column) + "^".repeat(Math.max(1, where.length))));
      control.focus();
      control.setSelectionRange(at, at + where.length);
    } else {
      control.focus();
    }
    control.setAttribute("aria-invalid", "true");
    slot.replaceChildren(...children);
    slot.scrollIntoView({ block: "nearest" }); // the field and, below it, the message and where it points
    return true;
  }

  function showError(err) {
    if (err instanceof ApiError && err.status === 401) return ctx.fail(err);
    const body = err.body || {};
    if (body.error === "invalid_filter") {
      const target = mode() === "sql" ? "sql" : body.part || null;
      if (target && showFieldError(target, body.detail, body.position)) return;
    }
    if (body.error === "stale_version") {
      formError.replaceChildren(message("error", `${err.message} `,
        h("button", { type: "button", class: "link", onclick: () => filterEditor(ctx, { id: current.filter_id }) }, "Reload the filter")));
      return;
    }
    if (Array.isArray(body.problems)) {
      let placed = false;
      for (const p of body.problems) {
        const name = p.where.replace(/^body\./, "");
        if (form.querySelector(`#f-${name}-error`)) placed = showFieldError(name, `${name}: ${p.problem}`, null) || placed;
      }
      if (placed) return;
    }
    formError.replaceChildren(message("error", err.message));
  }

  function body() {
    const out = {
      name: nameInput.value.trim(), description: description.value.trim(), output: output.value,
      on_alert: onAlert.checked, on_annotation: onAnnotation.checked, public: isPublic.checked,
      byte_quota: Number(quota.value),
    };
    if (mode() === "sql") out.sql = sql.value.trim();
    else Object.assign(out, { selected: selected.value.trim(), tables: tablesField.value.trim(), conditions: conditions.value.trim() });
    return out;
  }

  let busy = false;
  async function act(button, label, work) {
    if (busy) return;
    busy = true;
    clearErrors();
    const was = button.textContent;
    button.textContent = label;
    button.disabled = true;
    outcome.setAttribute("aria-busy", "true");
    try {
      await work();
    } catch (err) {
      showError(err);
    } finally {
      busy = false;
      button.textContent = button.dataset.idle || was;
      button.disabled = false;
      outcome.removeAttribute("aria-busy");
    }
  }

  /** What a run or backtest sends: the text as it is, or (another user's public filter) the saved filter by id. */
  const request = () => (readOnly ? null : { ...body(), name: body().name || "adhoc" });

  /** Run now over the newest objects, or over every object of the history a page at a time (offset). */
  async function runPage(over, sent, offset) {
    const result = readOnly
      ? await api("POST", `/filters/${id}/run?limit=${RUN_LIMIT}&over=${over}` + (over === "all" ? `&offset=${offset}` : ""))
      : await api("POST", "/filters/run", { ...sent, limit: RUN_LIMIT, over, ...(over === "all" ? { offset } : {}) });
    if (!ctx.current()) return;
    const more = result.truncated ? ` (the first ${result.count}; more matched)` : "";
    let summary;
    let pager = null;
    if (over === "all") {
      const range = result.count ? `rows ${offset + 1} to ${offset + result.count}` : "no rows";
      summary = `Over every object the history holds (${result.nights} night(s)): ${range}`
        + (result.truncated ? " (more on the next page)" : offset ? " (the last page)" : " (all that matched)") + `, in ${result.elapsed_s} s.`;
      const page = (to) => act(runButton, "Running…", () => runPage(over, sent, to));
      pager = h("div", { class: "buttons pager" },
        offset > 0 ? h("button", { type: "button", id: "run-previous", onclick: () => page(Math.max(0, offset - RUN_LIMIT)) }, "Previous page") : null,
        result.truncated ? h("button", { type: "button", id: "run-next", onclick: () => page(offset + result.count) }, "Next page") : null);
    } else {
      summary = `${result.count} match(es) among the ${result.objects_scanned} most recent objects${more} in ${result.elapsed_s} s.`;
    }
    replace(outcome, h("h2", {}, over === "all" ? "Run now over the history" : "Run now"),
      message("ok", summary),
      result.rows.length ? resultsTable(result.rows, "Matches") : h("p", { class: "empty" }, "Nothing matched."), pager);
    outcome.scrollIntoView({ block: "start" });
  }

  // The pages of one run are of the text as it was run: editing meanwhile does not mix two filters' rows.
  const run = () => act(runButton, "Running…", () => runPage(overAll.checked ? "all" : "recent", request(), 0));

  const backtest = () => act(backtestButton, "Backtesting…", async () => {
    const nights = Number(nightsInput.value);
    if (!Number.isInteger(nights) || nights < 1 || nights > MAX_NIGHTS) {
      nightsInput.setAttribute("aria-invalid", "true");
      nightsInput.focus();
      formError.replaceChildren(message("error", `Nights: give a whole number from 1 to ${MAX_NIGHTS} (you gave "${nightsInput.value}").`));
      return;
    }
    nightsInput.removeAttribute("aria-invalid");
    const result = readOnly
      ? await api("POST", `/filters/${id}/backtest?nights=${nights}&sample=5`)
      : await api("POST", "/filters/backtest", { ...request(), nights, sample: 5 });
    if (!ctx.current()) return;
    replace(outcome, backtestResult(result, { nightsAsked: nights, sampleTable: resultsTable }));
    outcome.scrollIntoView({ block: "start" });
  });

  const save = () => act(saveButton, "Saving…", async () => {
    const data = body();
    const saved = current
      ? await api("PUT", `/filters/${current.filter_id}`, { ...data, version: current.version })
      : await api("POST", "/filters", data);
    if (!ctx.current()) return;
    current = saved.filter;
    const fid = current.filter_id;
    history.replaceState(null, "", `#/filters/${fid}`);
    document.title = `Edit filter "${current.name}" · skystream`;
    form.querySelector("#editor-title").textContent = `Edit filter "${current.name}"`;
    saveButton.dataset.idle = "Save changes";
    deleteButton.hidden = false;
    // The stored three parts (a whole SELECT is stored split).
    selected.value = current.selected;
    tablesField.value = current.tables;
    conditions.value = current.conditions;
    streamLink.href = `#/filters/${fid}/stream`;
    streamLink.hidden = !saved.topic;
    replace(outcome, h("h2", {}, "Saved"),
      message("ok", `Saved version ${current.version} of "${current.name}": ${saved.message.replace(/^saved;\s*/, "")}.`),
      saved.topic ? h("dl", { class: "facts" },
        h("dt", {}, "Topic"), h("dd", {}, h("code", { id: "saved-topic" }, saved.topic)),
        h("dt", {}, "Reseeded"), h("dd", { id: "saved-reseeded" }, `${saved.reseeded} record(s) put in the topic from recent objects`)) : null,
      saved.topic ? h("p", {}, h("a", { href: `#/filters/${fid}/stream` }, `Watch the stream of ${saved.topic}`)) : null);
    outcome.scrollIntoView({ block: "start" });
  });

  const remove = () => act(deleteButton, "Deleting…", async () => {
    const f = current;
    if (!window.confirm(`Delete filter "${f.name}"${f.topic ? ` and its topic ${f.topic}` : ""}? This cannot be undone.`)) return;
    const out = await api("DELETE", `/filters/${f.filter_id}`);
    history.pushState(null, "", "#/filters");
    await filterList(ctx, `Deleted filter "${f.name}"` + (out.topic_deleted ? ` and its topic ${out.topic_deleted}.` : "."));
  });

  runButton.addEventListener("click", run);
  backtestButton.addEventListener("click", backtest);
  deleteButton.addEventListener("click", remove);
  form.addEventListener("submit", (event) => { event.preventDefault(); if (!readOnly) save(); });
  form.addEventListener("keydown", (event) => {
    if (event.ctrlKey && event.key === "Enter") { event.preventDefault(); run(); }
    else if (event.ctrlKey && (event.key === "s" || event.key === "S") && !readOnly) { event.preventDefault(); save(); }
  });

  replace(form,
    h("div", { class: "titlebar" }, h("h1", { id: "editor-title", tabindex: "-1" }, title),
      h("a", { href: "#/filters" }, "All filters")),
    readOnly ? message("info", `This is a public filter of user ${stored.owner}: you may run it and watch its stream; copy it to change it.`) : null,
    current && current.suspended ? message("error", `Suspended: ${current.suspended.reason}. Saving it again resumes it.`) : null,
    field("name", "Name", nameInput, "Also names the Kafka topic: lasair_<your user id><name>"),
    field("description", "Description", description),
    h("fieldset", { class: "mode" }, h("legend", {}, "Write it as"),
      h("label", {}, modeParts, " three parts (as on Lasair)"), h("label", {}, modeSql, " one SQL statement")),
    partsBox, sqlBox,
    h("div", { class: "settings" },
      field("output", "Output", output),
      h("fieldset", {}, h("legend", {}, "Runs"),
        h("label", {}, onAlert, " on every new alert"), h("label", {}, onAnnotation, " when an annotation it joins arrives")),
      h("fieldset", {}, h("legend", {}, "Sharing"), h("label", {}, isPublic, " public (every user may run it and read its topic)")),
      field("byte_quota", "Daily byte quota of its topic (bytes)", quota)),
    h("div", { class: "history-choices" },
      h("fieldset", { class: "inline" }, h("legend", {}, "Run now over"),
        h("label", {}, overRecent, " the newest objects"), h("label", {}, overAll, " every object in the history")),
      h("fieldset", { class: "inline" }, h("legend", {}, "Backtest"),
        h("label", { for: "bt-nights" }, "nights"), " ", nightsInput,
        h("span", { class: "hint", id: "bt-help" }, " newest of the history, one by one"))),
    formError,
    h("div", { class: "buttons" }, runButton, backtestButton, saveButton, deleteButton, streamLink, copyLink));

  const schemaPanel = tables ? schemaBrowser(tables, (text) => {
    const target = readOnly ? null : lastFocused;
    if (!target) return;
    target.focus();
    target.setRangeText(text, target.selectionStart, target.selectionEnd, "end");
  }) : h("aside", { class: "schema" }, message("error", `The tables and columns could not be loaded: ${tablesOrError.message}`));

  replace(ctx.main, h("div", { class: "editor-layout" }, h("div", {}, form, outcome), schemaPanel));
  ctx.focusTitle();
}

/** The tables and columns a filter may use, with descriptions; activating a column inserts it. */
function schemaBrowser(tables, insert) {
  const search = h("input", { type: "search", id: "schema-search", placeholder: "e.g. psfFlux", "aria-controls": "schema-tables" });
  const box = h("div", { id: "schema-tables" });
  function draw() {
    const q = search.value.trim().toLowerCase();
    box.replaceChildren(...tables.map((t) => {
      const columns = t.columns.filter((c) => !q || c.name.toLowerCase().includes(q) || (c.description || "").toLowerCase().includes(q));
      if (q && !columns.length) return null;
      const prefix = t.name === "annotations" ? "NAME" : t.name;
      return h("details", { open: Boolean(q) || t.name === "objects" },
        h("summary", {}, h("span", { class: "tname" }, t.name), " ", h("span", { class: "count" }, `${t.columns.length} columns`)),
        t.description ? h("p", { class: "desc" }, t.description) : null,
        h("ul", { class: "columns" }, columns.map((c) => h("li", {},
          h("button", { type: "button", class: "col", title: `Insert ${prefix}.${c.name}`, onclick: () => insert(`${prefix}.${c.name}`) }, c.name),
          " ", h("span", { class: "type" }, c.type),
          h("div", { class: "desc" }, c.description, c.null_reason ? ` (always null here: ${c.null_reason})` : "")))));
    }).filter(Boolean));
  }
  search.addEventListener("input", draw);
  draw();
  return h("aside", { class: "schema", "aria-labelledby": "schema-title" },
    h("h2", { id: "schema-title" }, "Tables and columns"),
    h("label", { for: "schema-search" }, "Find a column"), search,
    h("p", { class: "hint" }, "Press a column to insert it where you were typing."),
    box);
}
