// Validation page: send a PDF to the server's validator, show its report.
import { describe, labelFor, setStatus, t, upload } from "./common.js";

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
  setStatus(status, t("verify_checking"), "working");
  let body;
  try {
    body = await upload("/api/verify-pdf", file, "application/pdf");
  } catch (e) {
    setStatus(status, describe(e), "error");
    return;
  }
  setStatus(status, labelFor("verify_result_", body.verdict), body.verdict === "valid" ? "pass" : "error");
  for (const signature of body.signatures) {
    const card = document.createElement("div");
    card.className = "doc-card";
    const title = document.createElement("h3");
    title.textContent = `${signature.valid ? "✔" : "✘"} ${signature.kind} · ${signature.field_name}`;
    const list = document.createElement("dl");
    list.className = "facts";
    row(list, t("verify_signer"), signature.signer);
    row(list, t("verify_timestamp"), signature.timestamp);
    row(list, t("verify_signing_time"), signature.signing_time);
    row(list, t("verify_coverage"), signature.coverage);
    row(list, t("verify_modification_level"), signature.modification_level);
    row(list, t("verify_trusted"), signature.trusted);
    row(list, t("verify_ltv"), signature.ltv);
    for (const problem of signature.problems) row(list, t("verify_problem"), problem);
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
