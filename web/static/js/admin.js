import { api, describe, busy } from "./common.js";

function showPassword(password) {
  document.getElementById("password-value").textContent = password;
  document.getElementById("password-once").hidden = false;
}

document.querySelectorAll("button[data-op]").forEach((button) => {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const result = await api("POST", `/api/admin/users/${button.dataset.user}/${button.dataset.op}`);
      if (result.password) showPassword(result.password);
      else window.location.reload();
    } catch (e) {
      alert(describe(e));
    } finally {
      button.disabled = false;
    }
  });
});

const form = document.getElementById("new-user");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("user-error");
  error.textContent = "";
  await busy(form, async () => {
    try {
      const created = await api("POST", "/api/admin/users", Object.fromEntries(new FormData(form)));
      showPassword(created.password);
    } catch (e) {
      error.textContent = describe(e);
    }
  });
});
