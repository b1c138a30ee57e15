// The public JSON API, called with the user's token ("Authorization: Token <key>"). The token is
// kept in this browser tab's session storage only: closing the tab forgets it.

const TOKEN_KEY = "skystream.token";

/** Where the API is: the page is served at <base>/web/, the API at <base>/. */
export const API_BASE = location.pathname.replace(/\/web(\/.*)?$/, "");

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, body, text) {
    super(text);
    this.status = status;
    this.body = body || {};
  }
}

const LEADS = {
  400: "The request was refused",
  401: "Your token was not accepted",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  422: "Some fields are not valid",
  429: "Too many requests",
  500: "The server failed",
  503: "A service behind the API did not answer",
};

function describe(status, body) {
  const lead = LEADS[status] || `Error ${status}`;
  if (body && Array.isArray(body.problems) && body.problems.length) {
    return `${lead}: ` + body.problems.map((p) => `${p.where.replace(/^body\./, "")}: ${p.problem}`).join("; ");
  }
  const detail = body && (typeof body.detail === "string" ? body.detail : body.detail && JSON.stringify(body.detail));
  return detail ? `${lead}: ${detail}` : `${lead} (HTTP ${status}).`;
}

/**
 * JSON.parse, keeping integers beyond 2^53 exact: they become strings. Rubin's diaObjectId and
 * diaSourceId are 64-bit, and a JavaScript number would silently round them (and link to the
 * wrong object).
 */
export function parseJSON(text) {
  const safe = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g,
    (m) => (m[0] === '"' || Number.isSafeInteger(Number(m)) ? m : `"${m}"`));
  return JSON.parse(safe);
}

/** Call the API; returns the parsed JSON, or throws an ApiError whose message says what went wrong in words. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = token.get();
  if (key) headers.Authorization = `Token ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API_BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, null, `Could not reach the skystream API at ${location.origin}${API_BASE}: `
      + `is the server running, and is this computer online? (${err.message})`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = parseJSON(text); } catch { data = { detail: text.slice(0, 500) }; }
  }
  if (!response.ok) throw new ApiError(response.status, data, describe(response.status, data));
  return data;
}

/** The API's own URL of a path (for "the JSON of this page" links and curl lines). */
export function apiUrl(path) {
  return `${location.origin}${API_BASE}${path}`;
}
