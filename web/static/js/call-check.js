// The checks the server runs on the call's own video: a liveness check's prompts,
// its verdict on each challenge and its outcome ("live_check" messages), and a
// document held up to the camera ("document_check"), on the applicant's phone
// and the manager's console alike.
import { labelFor, t } from "./common.js";

// The server's verdict on one challenge, added to the list shown (if any).
export function appendVerdict(verdicts, { challenge, detected }) {
  if (!verdicts) return;
  const item = document.createElement("li");
  item.className = detected ? "pass" : "fail";
  item.textContent = `${detected ? "✓" : "✗"} ${labelFor("challenge_", challenge)}`;
  verdicts.append(item);
}

// Show every check's prompts and verdicts in these elements; returns a function
// that stops showing them.
export function showCallChecks(client, { prompt, verdicts }) {
  const listener = (message) => {
    if (message.type !== "live_check") return;
    if (message.phase === "prompt") {
      if (message.index === 0 && verdicts) verdicts.replaceChildren();
      prompt.textContent = labelFor("challenge_", message.challenge);
    } else if (message.phase === "verdict") {
      prompt.textContent = "";
      appendVerdict(verdicts, message);
    } else {
      prompt.textContent = "";
    }
  };
  client.checkListeners.add(listener);
  return () => client.checkListeners.delete(listener);
}

// The outcome of the check `attemptId`: the result message, or an Error naming
// why it was cut short.
export function callCheckOutcome(client, attemptId) {
  return new Promise((resolve, reject) => {
    const listener = (message) => {
      if (message.type !== "live_check" || message.attempt_id !== attemptId) return;
      if (message.phase === "result") {
        client.checkListeners.delete(listener);
        resolve(message);
      } else if (message.phase === "interrupted") {
        client.checkListeners.delete(listener);
        reject(new Error(message.reason));
      }
    };
    client.checkListeners.add(listener);
  });
}

// The outcome of the next document check: its result message, or an Error
// naming why it was cut short.
export function documentCheckOutcome(client) {
  return new Promise((resolve, reject) => {
    const listener = (message) => {
      if (message.type !== "document_check") return;
      if (message.phase === "result" || message.phase === "interrupted") {
        client.checkListeners.delete(listener);
        if (message.phase === "result") resolve(message); else reject(new Error(message.reason));
      }
    };
    client.checkListeners.add(listener);
  });
}

// The applicant's side of a document check: the back camera and what to hold up
// while the server looks, the front camera again afterwards.
export function followDocumentChecks(client, note) {
  client.checkListeners.add(async (message) => {
    if (message.type !== "document_check") return;
    if (message.phase === "request") {
      note.textContent = labelFor("call_show_", message.kind);
      if (client.facing === "user") await client.switchCamera();
    } else if (message.phase === "reading") {
      note.textContent = t("call_document_reading");
    } else {
      note.textContent = message.passed ? t("call_document_passed") : "";
      if (client.facing !== "user") await client.switchCamera();
    }
  });
}
