// The manager's side: accept the waiting applicant, talk, take snapshots, end.
import { api, describe, setStatus, t, tn } from "./common.js";
import { openCall } from "./call-view.js";
import { callCheckOutcome, documentCheckOutcome, showCallChecks } from "./call-check.js";

const section = document.getElementById("call");

if (section) {
  const id = section.dataset.application;
  const accept = section.querySelector("#call-accept");
  const status = section.querySelector("#call-error");
  const panel = section.querySelector(".call-view");

  const start = async () => {
    accept.disabled = true;
    try {
      await api("POST", `/api/applications/${id}/call`);
    } catch (e) {
      status.textContent = describe(e);
      accept.disabled = false;
      return;
    }
    accept.hidden = true;
    document.body.classList.add("in-call");
    const client = openCall(panel, id, { onEnded: () => window.location.reload() });
    // Every check on this call, the manager's re-check and the applicant's at
    // signing alike: the prompts and the server's verdicts as they come.
    showCallChecks(client, {
      prompt: section.querySelector("#call-check-prompt"),
      verdicts: section.querySelector("#call-check-verdicts"),
    });
    // A document held up to the applicant's camera, read by the server and
    // compared with the uploaded photo.
    section.querySelectorAll("[data-show-document]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const outcome = documentCheckOutcome(client);
          await api("POST", `/api/calls/${id}/document-check`, { kind: button.dataset.showDocument });
          const shown = await outcome;
          const said = shown.passed ? t("call_document_passed") : t("call_document_failed");
          setStatus(status, said, shown.passed ? "pass" : "error");
        } catch (e) {
          setStatus(status, describe(e), "error");
        } finally {
          button.disabled = false;
        }
      });
    });
    const recheck = section.querySelector("#call-live-check");
    if (recheck) {
      recheck.addEventListener("click", async () => {
        recheck.disabled = true;
        try {
          const attempt = await api("POST", `/api/calls/${id}/live-check`);
          const outcome = await callCheckOutcome(client, attempt.id);
          const passed = outcome.status === "passed";
          // Verified in the manager check's call: the console becomes the interview's.
          if (passed && section.dataset.state === "invited") window.location.reload();
          const said = passed ? t("call_live_check_passed") : t("call_live_check_failed");
          setStatus(status, said, passed ? "pass" : "error");
        } catch (e) {
          setStatus(status, describe(e), "error");
        } finally {
          recheck.disabled = false;
        }
      });
    }
    section.querySelector("#call-snapshot").addEventListener("click", async () => {
      try {
        const shot = await api("POST", `/api/calls/${id}/snapshot`);
        setStatus(status, `${t("call_snapshot_taken")} SHA-256 ${shot.sha256.slice(0, 16)}…`, "pass");
      } catch (e) {
        setStatus(status, describe(e), "error");
      }
    });
    // The non-face path: the identity is confirmed here, then the interview goes on.
    const confirm = section.querySelector("#call-confirm-identity");
    if (confirm) {
      confirm.hidden = false;
      confirm.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api("POST", `/api/applications/${id}/actions`, {
            action: "confirm_identity",
            comment: confirm.reason.value,
          });
          window.location.reload();
        } catch (e) {
          setStatus(status, describe(e), "error");
        }
      });
    }
    const checklist = section.querySelector("#interview-checklist");
    checklist.hidden = false;
    checklist.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ticked = {};
      for (const box of checklist.querySelectorAll("input[type=checkbox]")) ticked[box.name] = box.checked;
      const note = checklist.querySelector("#interview-checklist-status");
      try {
        await api("POST", `/api/calls/${id}/checklist`, { checklist: ticked });
        setStatus(note, t("interview_checklist_saved"), "pass");
      } catch (e) {
        setStatus(note, describe(e), "error");
      }
    });
    section.querySelector("#call-end").addEventListener("click", async () => {
      try {
        await api("POST", `/api/calls/${id}/end`);
      } catch (e) {
        status.textContent = describe(e);
      }
      client.finish("manager_ended");
    });
  };
  accept.addEventListener("click", start);
  if (section.dataset.state === "in_interview") start();
}

const queue = document.getElementById("call-queue");
if (queue) {
  const refresh = async () => {
    try {
      const { waiting } = await api("GET", "/api/calls/queue");
      const list = queue.querySelector("ul");
      list.replaceChildren(...waiting.map((entry) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `/staff/applications/${entry.application_id}`;
        link.textContent = `${entry.company_name} · ${entry.legal_rep_name}`;
        const wait = document.createElement("span");
        wait.className = "muted";
        wait.textContent = ` ${tn("call_waiting_minutes", Math.round(entry.waiting_seconds / 60))}`;
        item.append(link, wait);
        return item;
      }));
      queue.querySelector(".empty").hidden = waiting.length > 0;
    } catch (e) {
      // Keep what is shown; try again on the next tick.
    }
    setTimeout(refresh, 3000);
  };
  refresh();
}
