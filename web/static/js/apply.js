import { api, describe, busy, csrfToken, t } from "./common.js";
import { renderMatch, renderReading } from "./documents.js";
import { showStep } from "./steps.js";

const form = document.getElementById("consent-form");
if (form) {
  const error = document.getElementById("consent-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!form.recording.checked || !form.data_use.checked) {
      error.textContent = t("consent_needed");
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

// Every document read with all checks passed: on to liveness (the selfie, a preview
// of the face match, is optional; liveness matches the face again).
async function offerNextStep() {
  const kyc = await api("GET", "/api/applicant/kyc");
  const kinds = [...document.querySelectorAll("#documents .doc-card[data-kind]")]
    .map((card) => card.dataset.kind)
    .filter((kind) => kind !== "selfie");
  const done = kinds.every((kind) => kyc.documents[kind] && kyc.documents[kind].passed);
  const next = document.getElementById("documents-next");
  next.hidden = !done;
}

async function upload(card, file) {
  const status = card.querySelector(".status");
  const input = card.querySelector("input");
  status.textContent = t("reading");
  status.className = "status working";
  input.disabled = true;
  try {
    const url = card.dataset.kind === "selfie"
      ? "/api/applicant/selfie"
      : `/api/applicant/documents/${card.dataset.kind}`;
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrfToken() },
      body: file,
    });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = body.message;
      status.className = "status error";
      return;
    }
    status.textContent = "";
    status.className = "status";
    if (card.dataset.kind === "selfie") renderMatch(card.querySelector(".result"), body);
    else renderReading(card.querySelector(".result"), body);
    card.querySelector(".capture span").textContent = t("retake");
    await offerNextStep();
  } catch (e) {
    status.textContent = describe(e);
    status.className = "status error";
  } finally {
    input.disabled = false;
    input.value = "";
  }
}

const documents = document.getElementById("documents");
if (documents) {
  const cards = documents.querySelectorAll(".doc-card");
  cards.forEach((card) => {
    card.querySelector("input").addEventListener("change", (event) => {
      const [file] = event.target.files;
      if (file) upload(card, file);
    });
  });
  document.getElementById("documents-next").addEventListener("click", () => showStep("liveness"));
  // Show what was read before (a reload, a return visit).
  api("GET", "/api/applicant/kyc").then((kyc) => {
    cards.forEach((card) => {
      const reading = kyc.documents[card.dataset.kind];
      if (reading) {
        renderReading(card.querySelector(".result"), reading);
        card.querySelector(".capture span").textContent = t("retake");
      }
    });
    const selfie = documents.querySelector('.doc-card[data-kind="selfie"]');
    if (kyc.face_match && selfie) renderMatch(selfie.querySelector(".result"), kyc.face_match);
  });
}
