import { api, describe, busy, messages } from "./common.js";

const form = document.getElementById("consent-form");
if (form) {
  const error = document.getElementById("consent-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!form.recording.checked || !form.data_use.checked) {
      error.textContent = messages.consent_needed;
      return;
    }
    await busy(form, async () => {
      try {
        await api("POST", "/api/applicant/consent", { recording: true, data_use: true });
        window.location.reload();
      } catch (e) {
        error.textContent = describe(e);
      }
    });
  });
}
