// A liveness check the server runs on the call's own video: its prompts, its
// verdict on each challenge and its outcome arrive on the call's socket
// ("live_check" messages), on the applicant's phone and the manager's console.
import { labelFor } from "./common.js";

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
  client.liveCheckListeners.add(listener);
  return () => client.liveCheckListeners.delete(listener);
}

// The outcome of the check `attemptId`: the result message, or an Error naming
// why it was cut short.
export function callCheckOutcome(client, attemptId) {
  return new Promise((resolve, reject) => {
    const listener = (message) => {
      if (message.attempt_id !== attemptId) return;
      if (message.phase === "result") {
        client.liveCheckListeners.delete(listener);
        resolve(message);
      } else if (message.phase === "interrupted") {
        client.liveCheckListeners.delete(listener);
        reject(new Error(message.reason));
      }
    };
    client.liveCheckListeners.add(listener);
  });
}
