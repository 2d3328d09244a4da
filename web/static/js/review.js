// Compliance review: the four-eyes checklist with the decision, and the audited reveal.
import { api, busy, describe, download, setStatus, t } from "./common.js";

const section = document.getElementById("review");
if (section) {
  const id = section.dataset.id;
  const form = document.getElementById("review-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const checklist = {};
      for (const box of form.querySelectorAll("input[data-review-item]")) {
        checklist[box.name] = box.checked;
      }
      await busy(form, async () => {
        try {
          await api("POST", `/api/applications/${id}/review`, {
            decision: event.submitter.value,
            checklist,
            comment: form.comment.value || null,
          });
          window.location.reload();
        } catch (e) {
          document.getElementById("review-error").textContent = describe(e);
        }
      });
    });
  }
  // A package takes seconds to seal: say so, fetch it, then hand it to the browser.
  const exportStatus = document.getElementById("export-status");
  for (const link of [document.getElementById("evidence-export"), document.getElementById("personal-data-export")]) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      setStatus(exportStatus, t("export_preparing"), "working");
      try {
        await download(link.href, "package.zip");
        setStatus(exportStatus, t("export_ready"), "pass");
      } catch (e) {
        setStatus(exportStatus, describe(e), "error");
      }
    });
  }
  document.getElementById("reveal-id").addEventListener("click", async () => {
    try {
      const answer = await api("POST", `/api/applications/${id}/kyc/reveal`);
      document.getElementById("revealed-id").textContent = answer.id_number;
    } catch (e) {
      document.getElementById("revealed-id").textContent = describe(e);
    }
  });
}
