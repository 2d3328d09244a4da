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

// One request with the session's CSRF token; a failure throws ApiError carrying
// the server's JSON error body.
async function send(method, url, { headers = {}, body, token } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": token || csrfToken(), Accept: "application/json", ...headers },
  };
  if (body !== undefined) init.body = body;
  const response = await fetch(url, init);
  if (!response.ok) throw new ApiError(response.status, await jsonOf(response));
  return response;
}

async function jsonOf(response) {
  return response.headers.get("Content-Type")?.includes("json") ? response.json() : null;
}

export async function api(method, url, body, { token } = {}) {
  const json = body === undefined
    ? { token }
    : { token, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  return jsonOf(await send(method, url, json));
}

// POST a file as it is (a photo, a video clip, a PDF); resolves to the JSON answer.
export async function upload(url, file, type = file.type || "application/octet-stream") {
  return jsonOf(await send("POST", url, { headers: { "Content-Type": type }, body: file }));
}

// Fetch an attachment and hand it to the browser under the server's file name.
export async function download(url, fallbackName) {
  const response = await send("GET", url);
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  const href = URL.createObjectURL(await response.blob());
  const save = document.createElement("a");
  save.href = href;
  save.download = name ? name[1] : fallbackName;
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

// A page's status line: `kind` is "working", "pass", "error" or nothing.
export function setStatus(element, text, kind) {
  element.textContent = text;
  element.className = kind ? `status ${kind}` : "status";
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
