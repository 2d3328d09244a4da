import { api, describe, busy, t } from "./common.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  await busy(form, async () => {
    try {
      const result = await api(
        "POST",
        "/api/auth/login",
        { username: form.username.value, password: form.password.value },
        { token: form.dataset.prelogin },
      );
      window.location.assign(form.dataset.next || result.redirect);
    } catch (e) {
      if (e.status === 401) error.textContent = t("login_failed");
      else if (e.status === 429) error.textContent = t("too_many_attempts");
      else error.textContent = describe(e);
    }
  });
});
