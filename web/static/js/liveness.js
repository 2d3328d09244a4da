// Liveness, always judged by the server on video it receives itself: before the
// interview in a verification session, during the call (the fresh check at
// signing) on the call's own video. Only where no media connection can be made
// before the interview: the fallback, a clip recorded while showing the
// server's challenges, uploaded, and marked as the weaker source.
import { api, describe, labelFor, setStatus, t, upload } from "./common.js";
import { activeCall } from "./call.js";
import { SessionUnavailable, runVerificationSession } from "./verification-session.js";
import { appendVerdict, callCheckOutcome, showCallChecks } from "./call-check.js";

const section = document.getElementById("liveness");

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function recorderType() {
  for (const type of ["video/webm;codecs=vp8", "video/webm", "video/mp4"]) {
    if (window.MediaRecorder && MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

// Shows the outcome; true when the check passed.
function showOutcome(body, { button, status, prompt, video }, call) {
  const passed = body.status === "passed";
  prompt.textContent = "";
  setStatus(status, passed ? t("liveness_passed") : t("liveness_failed"), passed ? "pass" : "error");
  // The last attempt failed: the page reloads into the call, where the manager
  // confirms the identity.
  if (!passed && body.attempts_left === 0 && !call) setTimeout(() => window.location.reload(), 2500);
  button.hidden = passed;
  // Done: the camera box (now empty) makes way for the next task.
  video.parentElement.hidden = passed;
  return passed;
}

// During the call (the fresh check at signing): the server judges the call's own
// video; the page shows the camera the call sends and the server's prompts.
async function runOnCall(call, elements) {
  const { button, status, prompt, video, verdicts } = elements;
  button.disabled = true;
  setStatus(status, t("liveness_connecting"), "working");
  video.srcObject = call.stream;
  const stop = showCallChecks(call, { prompt, verdicts });
  try {
    const attempt = await api("POST", "/api/applicant/liveness/call");
    setStatus(status, "");
    return showOutcome(await callCheckOutcome(call, attempt.id), elements, call);
  } catch (e) {
    prompt.textContent = "";
    setStatus(status, describe(e), "error");
    return false;
  } finally {
    stop();
    video.srcObject = null;
    button.disabled = false;
  }
}

// Runs one attempt with the given elements; resolves to true when it passed.
export async function runLiveness(elements) {
  const { button, status, prompt, video, verdicts, applicationId } = elements;
  const call = activeCall();
  if (call) return runOnCall(call, elements);
  button.disabled = true;
  setStatus(status, "");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (e) {
    setStatus(status, t("liveness_camera_denied"), "error");
    button.disabled = false;
    return false;
  }
  try {
    video.srcObject = stream;
    let body = null;
    if (applicationId && window.RTCPeerConnection) {
      body = await liveSession(applicationId, stream, { status, prompt, verdicts });
    }
    if (body === null) body = await recordedClip(stream, { status, prompt });
    return showOutcome(body, elements, null);
  } catch (e) {
    prompt.textContent = "";
    setStatus(status, e.message === "connection_lost" ? t("liveness_session_lost") : describe(e), "error");
    return false;
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    button.disabled = false;
  }
}

// The server's own check; null when no media connection could be made.
async function liveSession(applicationId, stream, { status, prompt, verdicts }) {
  setStatus(status, t("liveness_connecting"), "working");
  if (verdicts) verdicts.replaceChildren();
  try {
    return await runVerificationSession(applicationId, stream, {
      onPrompt: (message) => {
        setStatus(status, "");
        prompt.textContent = labelFor("challenge_", message.challenge);
      },
      onVerdict: (message) => {
        prompt.textContent = "";
        appendVerdict(verdicts, message);
      },
    });
  } catch (e) {
    if (!(e instanceof SessionUnavailable)) throw e;
    setStatus(status, t("liveness_fallback"), "working");
    return null;
  }
}

// The fallback: a clip recorded on the phone, uploaded, judged as a file.
async function recordedClip(stream, { status, prompt }) {
  const attempt = await api("POST", "/api/applicant/liveness");
  const type = recorderType();
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start(250);
  prompt.textContent = t("liveness_get_ready");
  await sleep(attempt.lead_in_ms);
  for (const challenge of attempt.challenges) {
    prompt.textContent = labelFor("challenge_", challenge);
    await sleep(attempt.window_ms);
  }
  recorder.stop();
  await stopped;
  prompt.textContent = "";
  setStatus(status, t("liveness_uploading"), "working");
  const clip = new Blob(chunks, { type: (recorder.mimeType || "video/webm").split(";")[0] });
  return upload(`/api/applicant/liveness/${attempt.id}/video`, clip);
}

if (section) {
  const elements = {
    button: document.getElementById("liveness-start"),
    status: document.getElementById("liveness-status"),
    prompt: document.getElementById("liveness-prompt"),
    video: document.getElementById("liveness-video"),
    verdicts: document.getElementById("liveness-verdicts"),
    applicationId: section.dataset.application,
  };
  elements.button.addEventListener("click", async () => {
    // Passing completes the identity evidence: the server moves the case on, and the
    // page (after a moment to read the outcome) reloads into the interview step.
    if (await runLiveness(elements)) setTimeout(() => window.location.reload(), 1500);
  });
}
