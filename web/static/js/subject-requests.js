// A data subject's requests on the case page (compliance): record one with its
// due date, carry it out with a note saying what was done.
import { api, busy, describe, labelFor, t } from "./common.js";

const section = document.getElementById("subject-requests");
if (section) {
  const base = `/api/applications/${section.dataset.id}/subject-requests`;
  const list = document.getElementById("subject-request-list");
  const error = document.getElementById("subject-request-error");

  const row = (task) => {
    const item = document.createElement("li");
    const when = task.status === "open"
      ? t("subject_request_due", { date: task.due_at.slice(0, 10) })
      : labelFor("subject_request_status_", task.status);
    item.textContent = `${labelFor("subject_request_", task.kind)} · ${task.note} · ${when}`;
    item.className = task.overdue ? "fail" : task.status === "open" ? "" : "pass";
    if (task.status === "open") {
      const done = document.createElement("button");
      done.type = "button";
      done.textContent = t("subject_request_complete");
      done.addEventListener("click", async () => {
        const note = window.prompt(t("subject_request_complete_note"));
        if (!note) return;
        try {
          await api("POST", `${base}/${task.id}/complete`, { note });
          await refresh();
        } catch (e) {
          error.textContent = describe(e);
        }
      });
      item.append(" ", done);
    }
    return item;
  };

  const refresh = async () => {
    const tasks = await api("GET", base);
    list.replaceChildren(...tasks.items.map(row));
  };

  const form = document.getElementById("subject-request-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    await busy(form, async () => {
      try {
        await api("POST", base, { kind: form.kind.value, note: form.note.value });
        form.note.value = "";
        await refresh();
      } catch (e) {
        error.textContent = describe(e);
      }
    });
  });
  refresh().catch((e) => { error.textContent = describe(e); });
}
