// A filter's stream: the last records of its Kafka topic, newest first, as its consumers get them
// (GET /filters/{id}/records), with older pages, and "follow" to watch new records arrive.

import { api, ApiError, apiUrl } from "./api.js";
import { fmt, h, message, replace } from "./dom.js";

const PAGE = 20;
const FOLLOW_EVERY_MS = 5000;

function lightcurveSummary(alert) {
  if (!alert || typeof alert !== "object") return "—";
  const det = (alert.diaSourcesList || []).length;
  const forced = (alert.diaForcedSourcesList || []).length;
  return `${det} detection(s), ${forced} forced`;
}

function recordsTable(records) {
  const columns = [];
  for (const r of records) {
    if (r.value && typeof r.value === "object" && !Array.isArray(r.value)) {
      for (const key of Object.keys(r.value)) if (key !== "alert" && !columns.includes(key)) columns.push(key);
    }
  }
  const hasAlert = records.some((r) => r.value && r.value.alert);
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Records" },
    h("table", { class: "data records" },
      h("caption", {}, `${records.length} record(s), newest first`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Offset"), h("th", { scope: "col" }, "Received (UTC)"),
        columns.map((c) => h("th", { scope: "col" }, c)),
        hasAlert ? h("th", { scope: "col" }, "Lightcurve") : null, h("th", { scope: "col" }, "Record"))),
      h("tbody", {}, records.map((r) => {
        const value = r.value && typeof r.value === "object" ? r.value : {};
        const objectId = value.diaObjectId ?? r.key;
        return h("tr", { class: "record", "data-offset": String(r.offset) },
          h("td", { class: "num" }, r.partition ? `${r.partition}:${r.offset}` : String(r.offset)),
          h("td", {}, r.timestamp ? r.timestamp.replace("T", " ").replace("+00:00", "") : "—"),
          columns.map((c) => h("td", { class: typeof value[c] === "number" ? "num" : null },
            c === "diaObjectId" && objectId !== undefined ? h("a", { href: `#/objects/${objectId}` }, String(objectId)) : fmt(value[c]))),
          hasAlert ? h("td", {}, lightcurveSummary(value.alert)) : null,
          h("td", {}, h("details", {}, h("summary", {}, `JSON (${r.size} bytes)`),
            h("pre", { class: "json" }, typeof r.value === "string" ? r.value : JSON.stringify(r.value, null, 2)))));
      }))));
}

export async function streamView(ctx, filterId) {
  const f = await api("GET", `/filters/${filterId}`);
  if (!ctx.current()) return;
  document.title = `Stream of "${f.name}" · skystream`;
  const status = h("div", { class: "status", "aria-live": "polite" });
  const list = h("div", { class: "stream-records" });
  const newest = h("button", { type: "button" }, "Newest records");
  const older = h("button", { type: "button", disabled: true }, "Older records");
  const follow = h("input", { type: "checkbox", id: "follow" });
  let before = null; // the cursor of the page shown (null: the newest)
  let next = null;
  let timer = null;
  let loading = false;

  async function load(cursor) {
    if (loading) return;
    loading = true;
    list.setAttribute("aria-busy", "true");
    const query = `?limit=${PAGE}` + (cursor ? `&before=${encodeURIComponent(cursor)}` : "");
    try {
      const page = await api("GET", `/filters/${filterId}/records${query}`);
      if (!ctx.current()) return stop();
      before = cursor;
      next = page.next_before;
      older.disabled = !next;
      replace(status, message(page.complete ? "ok" : "error", `${page.message}.`),
        cursor ? h("p", { class: "hint" }, "Showing older records; follow shows the newest.") : null);
      replace(list, page.records.length ? recordsTable(page.records) : h("p", { class: "empty" }, "No records to show."));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) { stop(); return ctx.fail(err); }
      replace(status, message("error", err.message));
    } finally {
      loading = false;
      list.removeAttribute("aria-busy");
    }
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    follow.checked = false;
  }

  newest.addEventListener("click", () => load(null));
  older.addEventListener("click", () => { stop(); load(next); });
  follow.addEventListener("change", () => {
    if (follow.checked) {
      load(null);
      timer = setInterval(() => { if (!ctx.current()) return stop(); if (!before) load(null); }, FOLLOW_EVERY_MS);
    } else stop();
  });
  window.addEventListener("hashchange", stop, { once: true });

  replace(ctx.main,
    h("div", { class: "titlebar" }, h("h1", { tabindex: "-1" }, `Stream of "${f.name}"`),
      h("a", { href: `#/filters/${filterId}` }, "The filter")),
    h("dl", { class: "facts" },
      h("dt", {}, "Topic"), h("dd", {}, f.topic ? h("code", {}, f.topic) : "none (the output is not Kafka)"),
      h("dt", {}, "Output"), h("dd", {}, f.output),
      h("dt", {}, "JSON"), h("dd", {}, h("code", {}, `GET ${apiUrl(`/filters/${filterId}/records`)}`))),
    h("p", { class: "hint" }, "The records your consumers read from the topic. Reading them here moves no consumer's position."),
    h("div", { class: "buttons" }, newest, older, h("label", { class: "check" }, follow, ` follow (check every ${FOLLOW_EVERY_MS / 1000} s)`)),
    status, list);
  ctx.focusTitle();
  if (!f.topic) {
    replace(status, message("error", `Filter "${f.name}" has output ${f.output}, so it has no Kafka topic. Give it a kafka_ output to stream its matches.`));
    newest.disabled = true;
    follow.disabled = true;
    return;
  }
  await load(null);
}
