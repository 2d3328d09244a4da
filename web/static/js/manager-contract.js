// The manager's contract card: push the contract during the call, follow the
// applicant's reading and signing, retry the bank's steps if one failed.
import { api, describe, labelFor } from "./common.js";

const section = document.getElementById("contract");
const POLL_MS = 3000;

function render(contract) {
  section.querySelector("#contract-state").textContent =
    labelFor("contract_status_", contract.status);
  section.querySelector("#contract-read-pages").textContent =
    `${contract.pages_read.length} / ${contract.page_count}`;
  const code = section.querySelector("#contract-demo-code");
  code.textContent = contract.demo_code || "—";
  section.querySelector("#contract-details").hidden = false;
  section.querySelector("#contract-retry").hidden = !(contract.status === "failed" && contract.progress);
  section.querySelector("#contract-error").textContent = contract.last_error || "";
}

async function refresh() {
  try {
    render(await api("GET", `/api/applications/${section.dataset.id}/contract`));
  } catch (e) {
    if (e.status !== 404) section.querySelector("#contract-error").textContent = describe(e);
  }
  setTimeout(refresh, POLL_MS);
}

if (section) {
  // Only the case's manager, while a call can run, has the button.
  const push = section.querySelector("#contract-push");
  if (push) {
    push.addEventListener("click", async () => {
      try {
        render(await api("POST", `/api/applications/${section.dataset.id}/contract`));
      } catch (e) { section.querySelector("#contract-error").textContent = describe(e); }
    });
  }
  section.querySelector("#contract-retry").addEventListener("click", async () => {
    try {
      render(await api("POST", `/api/applications/${section.dataset.id}/contract/complete`));
    } catch (e) { section.querySelector("#contract-error").textContent = describe(e); }
  });
  refresh();
}
