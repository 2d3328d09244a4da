// Compliance review: the four-eyes checklist with the decision, and the audited reveal.
import { api, describe, busy, t } from "./common.js";

const section = document.getElementById("review");
if (section) {
  const id = section.dataset.id;
  const form = document.getElementById("review-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const checklist = {};
      for (const name of ["identity_confirmed", "acted_voluntarily", "contract_explained", "recording_complete"]) {
        checklist[name] = form.elements[name].checked;
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
      exportStatus.textContent = t("export_preparing");
      exportStatus.className = "status working";
      try {
        const response = await fetch(link.href, { credentials: "same-origin" });
        if (!response.ok) throw new Error((await response.json()).message);
        const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
        const url = URL.createObjectURL(await response.blob());
        const save = document.createElement("a");
        save.href = url;
        save.download = name ? name[1] : "package.zip";
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        exportStatus.textContent = t("export_ready");
        exportStatus.className = "status pass";
      } catch (e) {
        exportStatus.textContent = describe(e);
        exportStatus.className = "status error";
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
