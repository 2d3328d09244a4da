// The applicant's side of the call: join the queue, wait for the manager, talk.
import { api, describe, t } from "./common.js";
import { openCall } from "./call-view.js";
import { followDocumentChecks, showCallChecks } from "./call-check.js";

const section = document.getElementById("call");
const POLL_MS = 3000;

async function waitForManager(join, status) {
  const answer = await api("POST", "/api/applicant/call/queue");
  if (answer.state === "in_call") {
    join.hidden = true;
    status.textContent = "";
    const panel = section.querySelector(".call-view");
    const client = openCall(panel, section.dataset.application, {
      onEnded: () => { join.hidden = false; },
      // The identity checks watch this video: see CallClient's layeredVideo.
      layeredVideo: true,
    });
    followDocumentChecks(client, section.querySelector("#call-document"));
    // The manager's re-check: the server's prompts and verdicts, as they come.
    showCallChecks(client, {
      prompt: section.querySelector("#call-check-prompt"),
      verdicts: section.querySelector("#call-check-verdicts"),
    });
    section.querySelector("#call-switch").addEventListener("click", () => client.switchCamera());
    section.querySelector("#call-leave").addEventListener("click", () => client.leave());
    return;
  }
  status.textContent = t("call_waiting");
  setTimeout(() => waitForManager(join, status).catch((e) => { status.textContent = describe(e); }), POLL_MS);
}

if (section) {
  const join = section.querySelector("#call-join");
  const status = section.querySelector("#call-waiting");
  join.addEventListener("click", () => {
    join.disabled = true;
    waitForManager(join, status).catch((e) => {
      status.textContent = describe(e);
      join.disabled = false;
    });
  });
  if (section.dataset.state === "in_interview") join.click();
}
