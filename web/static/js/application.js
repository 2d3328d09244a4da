import { api, describe, busy } from "./common.js";

const section = document.getElementById("application");
const id = section.dataset.id;

const actionForm = document.getElementById("action-form");
if (actionForm) {
  actionForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("action-error");
    error.textContent = "";
    const action = event.submitter.value;
    await busy(actionForm, async () => {
      try {
        await api("POST", `/api/applications/${id}/actions`, {
          action,
          comment: actionForm.comment.value || null,
        });
        window.location.reload();
      } catch (e) {
        error.textContent = describe(e);
      }
    });
  });
}

const createInvite = document.getElementById("create-invite");
if (createInvite) {
  createInvite.addEventListener("click", async () => {
    createInvite.disabled = true;
    try {
      const invite = await api("POST", `/api/applications/${id}/invites`);
      document.getElementById("invite-link").value = invite.link;
      document.getElementById("invite-qr").src = invite.qr_svg;
      document.getElementById("new-invite").hidden = false;
    } catch (e) {
      alert(describe(e));
    } finally {
      createInvite.disabled = false;
    }
  });
}

document.querySelectorAll("button.revoke").forEach((button) => {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", `/api/applications/${id}/invites/${button.dataset.invite}/revoke`);
      window.location.reload();
    } catch (e) {
      alert(describe(e));
      button.disabled = false;
    }
  });
});
