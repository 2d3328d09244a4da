// Save a new contract template version (the server renders it once to check it).
import { api, describe, busy } from "./common.js";

const form = document.getElementById("template-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  await busy(form, async () => {
    try {
      await api("POST", "/api/admin/contract-templates", { body: data.get("body"), note: data.get("note") });
      window.location.reload();
    } catch (e) {
      document.getElementById("template-error").textContent = describe(e);
    }
  });
});
