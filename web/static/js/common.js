// Shared helpers for every page: JSON calls with the CSRF token, text, logout.
export const messages = JSON.parse(document.getElementById("messages").textContent);

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
