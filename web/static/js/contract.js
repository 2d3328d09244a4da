// The applicant's contract: read it page by page, get a code, pass a fresh
// liveness check, draw a signature, sign, download the signed PDF.
import { api, describe, setStatus, t } from "./common.js";
import { runLiveness } from "./liveness.js";

const section = document.getElementById("contract");
const POLL_MS = 3000;

function $(id) { return document.getElementById(id); }

function say(text, kind) {
  setStatus($("contract-status"), text, kind);
}

let contract = null;
let page = 1;
let livenessPassed = false;

function showPage() {
  $("contract-page-label").textContent = t("contract_page", { n: page, total: contract.page_count });
  $("contract-page").src = `/api/applicant/contract/pages/${page}?v=${contract.pdf_sha256.slice(0, 12)}`;
  $("contract-prev").disabled = page === 1;
}

function firstUnread() {
  for (let n = 1; n <= contract.page_count; n += 1) {
    if (!contract.pages_read.includes(n)) return n;
  }
  return 0;
}

function show(current) {
  contract = current;
  $("contract-waiting").hidden = true;
  if (contract.status === "signed") {
    $("contract-reader").hidden = true;
    $("contract-confirm").hidden = true;
    $("contract-done").hidden = false;
    return;
  }
  const unread = firstUnread();
  $("contract-reader").hidden = unread === 0;
  $("contract-confirm").hidden = unread !== 0;
  if (unread) {
    page = unread;
    showPage();
  }
  if (contract.status === "failed" && contract.last_error) {
    say(t("contract_failed", { reason: contract.last_error }), "error");
  }
}

async function poll() {
  try {
    show(await api("GET", "/api/applicant/contract"));
  } catch (e) {
    if (e.status === 404) {
      setTimeout(poll, POLL_MS);
      return;
    }
    say(describe(e), "error");
  }
}

function drawingPad(canvas) {
  const context = canvas.getContext("2d");
  context.lineWidth = 4;
  context.lineCap = "round";
  context.strokeStyle = "#111";
  let drawing = false;
  let inked = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.beginPath();
    context.moveTo(...at(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.lineTo(...at(event));
    context.stroke();
    inked = true;
  });
  const stop = () => { drawing = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  return {
    clear() { context.clearRect(0, 0, canvas.width, canvas.height); inked = false; },
    get inked() { return inked; },
    png() { return canvas.toDataURL("image/png").split(",", 2)[1]; },
  };
}

if (section) {
  const pad = drawingPad($("contract-mark"));
  $("contract-prev").addEventListener("click", () => { page = Math.max(1, page - 1); showPage(); });
  $("contract-read").addEventListener("click", async () => {
    try {
      show(await api("POST", `/api/applicant/contract/pages/${page}/read`));
    } catch (e) { say(describe(e), "error"); }
  });
  $("contract-code-send").addEventListener("click", async () => {
    try {
      const sent = await api("POST", "/api/applicant/contract/code");
      say(sent.to === "manager" ? t("contract_code_with_manager") : t("contract_code_sent"), "pass");
    } catch (e) { say(describe(e), "error"); }
  });
  // Without biometric consent the page has no fresh face check: the manager
  // confirmed the identity on the call.
  if ($("contract-liveness-start")) {
    const liveness = {
      button: $("contract-liveness-start"),
      status: $("contract-liveness-status"),
      prompt: $("contract-liveness-prompt"),
      video: $("contract-liveness-video"),
      verdicts: $("contract-liveness-verdicts"),
    };
    liveness.button.addEventListener("click", async () => {
      livenessPassed = await runLiveness(liveness);
    });
  }
  $("contract-clear").addEventListener("click", () => pad.clear());
  $("contract-sign").addEventListener("click", async () => {
    const button = $("contract-sign");
    button.disabled = true;
    say(t("contract_signing"), "working");
    try {
      show(await api("POST", "/api/applicant/contract/sign", {
        code: $("contract-code").value.trim(),
        mark_png: pad.png(),
      }));
      say(t("contract_signed"), "pass");
    } catch (e) {
      say(describe(e), "error");
    } finally {
      button.disabled = false;
    }
  });
  if (["in_interview", "identity_verified", "contract_signed"].includes(section.dataset.state)) poll();
}
