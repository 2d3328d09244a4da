import { api, describe, busy } from "./common.js";

const form = document.getElementById("new-application");
const error = document.getElementById("create-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const data = Object.fromEntries(new FormData(form));
  data.term_months = Number.parseInt(data.term_months, 10);
  await busy(form, async () => {
    try {
      const created = await api("POST", "/api/applications", data);
      window.location.assign(`/staff/applications/${created.id}`);
    } catch (e) {
      error.textContent = describe(e);
    }
  });
});
