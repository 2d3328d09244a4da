// Shared helpers for every page: JSON calls with the CSRF token, text, logout.
// The page's text: only the keys its scripts use (web/page_scripts.py), plural
// entries as lists of forms in the catalogue's order.
const messages = JSON.parse(document.getElementById("messages").textContent);

// The catalogues' Plural-Forms (tests/test_i18n_catalogues.py keeps them in step).
const PLURAL_INDEX = { en: (n) => (n === 1 ? 0 : 1), "zh-CN": () => 0 };
const pluralIndex = PLURAL_INDEX[document.documentElement.lang] || PLURAL_INDEX["zh-CN"];

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => (values[name] ?? "").toString());
}

// The text for `key` with its {placeholders} filled; the key itself if the page lacks it.
export function t(key, values = {}) {
  const text = messages[key];
  return typeof text === "string" ? fill(text, values) : key;
}

// The plural form of `key` for `n`, which the text may show as {n}.
export function tn(key, n, values = {}) {
  const forms = messages[key];
  if (!Array.isArray(forms)) return key;
  return fill(forms[Math.min(pluralIndex(n), forms.length - 1)], { n, ...values });
}

// The text for one value of a family of keys (`face_` + a decision), or the value
// itself where the catalogue has none: servers may add states before pages learn them.
export function labelFor(prefix, value, values = {}) {
  const text = messages[prefix + value];
  return typeof text === "string" ? fill(text, values) : value;
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(method, url, body, { token } = {}) {
  const headers = { "X-CSRF-Token": token || csrfToken(), Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function describe(error) {
  if (error instanceof ApiError && error.body.details && error.body.details.fields) {
    return Object.entries(error.body.details.fields).map(([k, v]) => `${k}: ${v}`).join("; ");
  }
  return error.message;
}

// Disable a form's buttons while `work` runs so a slow call cannot be sent twice.
export async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    const result = await api("POST", "/api/auth/logout");
    window.location.assign(result.redirect);
  });
}
