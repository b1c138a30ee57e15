// The page: sign-in, the router (hash addresses, so every view has a link and Back works),
// and the frame around the views. Views live in filters.js, stream.js and object.js.

import { api, ApiError, token } from "./api.js";
import { h, message, replace } from "./dom.js";
import { filterEditor, filterList } from "./filters.js";
import { objectView } from "./object.js";
import { streamView } from "./stream.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let me = null; // the signed-in user, from GET /me
let generation = 0; // a view that finishes loading after the user moved on is dropped

const ROUTES = [
  [/^#\/filters\/?$/, () => filterList],
  [/^#\/filters\/new$/, () => (ctx) => filterEditor(ctx, {})],
  [/^#\/filters\/([\w-]+)\/copy$/, (m) => (ctx) => filterEditor(ctx, { copyOf: m[1] })],
  [/^#\/filters\/([\w-]+)\/stream$/, (m) => (ctx) => streamView(ctx, m[1])],
  [/^#\/filters\/([\w-]+)$/, (m) => (ctx) => filterEditor(ctx, { id: m[1] })],
  [/^#\/objects\/(\d+)$/, (m) => (ctx) => objectView(ctx, m[1])],
];

function signOut(note) {
  token.clear();
  me = null;
  renderSignIn(note);
}

async function signIn(key, form) {
  token.set(key);
  try {
    me = await api("GET", "/me");
  } catch (err) {
    token.clear();
    const text = err instanceof ApiError && err.status === 401
      ? "That token was not accepted. Check it (an administrator makes one with `skystream users add`) and try again."
      : err.message;
    form.querySelector(".form-msg").replaceChildren(message("error", text));
    form.querySelector("input").focus();
    return;
  }
  route();
}

function renderSignIn(note) {
  nav.hidden = true;
  who.replaceChildren();
  document.title = "Sign in · skystream";
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
    h("p", {}, "Paste your skystream API token. The page keeps it in this browser tab only, and forgets it when the tab is closed or you sign out."),
    h("label", { for: "token" }, "API token"),
    h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" }),
    h("div", { class: "form-msg", "aria-live": "polite" }, note ? message("error", note) : null),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = document.getElementById("token").value.trim();
    if (key) signIn(key, form);
  });
  replace(main, form);
  document.getElementById("token").focus();
}

function frame() {
  nav.hidden = false;
  replace(who, `Signed in as ${me.name} (user ${me.user_id}) `,
    h("button", { type: "button", class: "link", onclick: () => signOut() }, "Sign out"));
}

/** What a view gets: where to draw, whether it is still current, the user, and error handling. */
function context(mine) {
  return {
    main,
    me,
    current: () => mine === generation,
    /** Show an error of a view's loading; a refused token sends the user back to sign in. */
    fail(err) {
      if (mine !== generation) return;
      if (err instanceof ApiError && err.status === 401) return signOut(`${err.message} Sign in again.`);
      replace(main, h("h1", { tabindex: "-1" }, "Something went wrong"), message("error", err.message),
        h("p", {}, h("a", { href: "#/filters" }, "Back to the filters")));
      main.querySelector("h1").focus();
    },
    focusTitle() {
      const title = main.querySelector("h1");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus({ preventScroll: false }); }
    },
  };
}

async function route() {
  const mine = ++generation;
  if (!token.get()) return renderSignIn();
  if (!me) {
    try {
      me = await api("GET", "/me");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return signOut(`${err.message} Sign in again.`);
      replace(main, message("error", err.message));
      return;
    }
    if (mine !== generation) return;
  }
  frame();
  const hash = location.hash || "#/filters";
  for (const [pattern, make] of ROUTES) {
    const m = hash.match(pattern);
    if (m) {
      replace(main, h("p", { class: "loading" }, "Loading…"));
      const ctx = context(mine);
      try {
        await make(m)(ctx);
      } catch (err) {
        ctx.fail(err);
      }
      return;
    }
  }
  replace(main, h("h1", { tabindex: "-1" }, "No such page"),
    message("error", `The address ${hash} is not a page of skystream.`), h("a", { href: "#/filters" }, "Go to the filters"));
}

document.getElementById("goto-object").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("goto-id").value.trim();
  if (/^\d+$/.test(id)) location.hash = `#/objects/${id}`;
});

window.addEventListener("hashchange", route);
route();
