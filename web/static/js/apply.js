import { api, busy, describe, setStatus, t, upload } from "./common.js";
import { renderReading } from "./documents.js";

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

// Biometric processing: its own screen, declinable; withdrawable later.
async function chooseBiometrics(granted, status) {
  try {
    await api("POST", "/api/applicant/consent/biometrics", { granted });
    window.location.reload();
  } catch (e) {
    status.textContent = describe(e);
  }
}
const agree = document.getElementById("biometrics-agree");
if (agree) {
  const error = document.getElementById("biometrics-error");
  agree.addEventListener("click", () => chooseBiometrics(true, error));
  document.getElementById("biometrics-decline")
    .addEventListener("click", () => chooseBiometrics(false, error));
}
const withdraw = document.getElementById("biometrics-withdraw");
if (withdraw) {
  withdraw.addEventListener("click", () => {
    if (window.confirm(t("biometrics_withdraw_confirm"))) {
      chooseBiometrics(false, document.getElementById("consents-status"));
    }
  });
}

// Every document read with all checks passed: on to liveness, where the face is
// matched on the video the server receives.
async function offerNextStep() {
  const kyc = await api("GET", "/api/applicant/kyc");
  const kinds = [...document.querySelectorAll("#documents .doc-card[data-kind]")]
    .map((card) => card.dataset.kind);
  const done = kinds.every((kind) => kyc.documents[kind] && kyc.documents[kind].passed);
  const next = document.getElementById("documents-next");
  next.hidden = !done;
}

async function send(card, file) {
  const status = card.querySelector(".status");
  const input = card.querySelector("input");
  setStatus(status, t("reading"), "working");
  input.disabled = true;
  try {
    const body = await upload(`/api/applicant/documents/${card.dataset.kind}`, file);
    setStatus(status, "");
    renderReading(card.querySelector(".result"), body);
    card.querySelector(".capture span").textContent = t("retake");
    await offerNextStep();
  } catch (e) {
    setStatus(status, describe(e), "error");
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
      if (file) send(card, file);
    });
  });
  // The server says what follows: liveness, or (without biometric consent) the call.
  document.getElementById("documents-next").addEventListener("click", () => window.location.reload());
  // Show what was read before (a reload, a return visit).
  api("GET", "/api/applicant/kyc").then((kyc) => {
    cards.forEach((card) => {
      const reading = kyc.documents[card.dataset.kind];
      if (reading) {
        renderReading(card.querySelector(".result"), reading);
        card.querySelector(".capture span").textContent = t("retake");
      }
    });
  });
}
