// Validation page: send a PDF to the server's validator, show its report.
import { csrfToken, labelFor } from "./common.js";

const input = document.getElementById("verify-file");
const status = document.getElementById("verify-status");
const report = document.getElementById("verify-report");

function row(list, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value === null || value === undefined ? "—" : String(value);
  list.append(dt, dd);
}

input.addEventListener("change", async () => {
  const file = input.files[0];
  if (!file) return;
  report.replaceChildren();
  status.className = "status working";
  status.textContent = "…";
  const response = await fetch("/api/verify-pdf", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/pdf", "X-CSRF-Token": csrfToken() },
    body: file,
  });
  const body = await response.json();
  if (!response.ok) {
    status.className = "status error";
    status.textContent = body.message;
    return;
  }
  status.className = body.verdict === "valid" ? "status pass" : "status error";
  status.textContent = labelFor("verify_result_", body.verdict);
  for (const signature of body.signatures) {
    const card = document.createElement("div");
    card.className = "doc-card";
    const title = document.createElement("h3");
    title.textContent = `${signature.valid ? "✔" : "✘"} ${signature.kind} · ${signature.field_name}`;
    const list = document.createElement("dl");
    list.className = "facts";
    row(list, "signer", signature.signer);
    row(list, "timestamp", signature.timestamp);
    row(list, "signing time (claimed)", signature.signing_time);
    row(list, "coverage", signature.coverage);
    row(list, "modification level", signature.modification_level);
    row(list, "trusted", signature.trusted);
    row(list, "LTV", signature.ltv);
    for (const problem of signature.problems) row(list, "problem", problem);
    card.append(title, list);
    report.append(card);
  }
  for (const problem of body.problems) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = problem;
    report.append(p);
  }
});
