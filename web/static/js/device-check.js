// The device check before identity evidence: camera and microphone can be opened,
// WebRTC and recording work, and the server answers quickly enough for video.
// Each failure shows how to fix it; the check can be run again.
import { api, describe, setStatus, t } from "./common.js";

const section = document.getElementById("device");

async function mediaCheck() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const result = {
      camera: stream.getVideoTracks().length > 0,
      microphone: stream.getAudioTracks().length > 0,
    };
    stream.getTracks().forEach((track) => track.stop());
    return result;
  } catch (e) {
    return { camera: false, microphone: false };
  }
}

async function webrtcCheck() {
  try {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("video");
    const offer = await pc.createOffer();
    pc.close();
    return offer.sdp.includes("m=video");
  } catch (e) {
    return false;
  }
}

function recorderCheck() {
  return Boolean(window.MediaRecorder) &&
    ["video/webm", "video/mp4"].some((type) => MediaRecorder.isTypeSupported(type));
}

async function roundTrip() {
  const times = [];
  for (let i = 0; i < 3; i += 1) {
    const start = performance.now();
    // Not through api(): this times the network to the server, nothing more.
    await fetch("/healthz", { cache: "no-store" });
    times.push(performance.now() - start);
  }
  return Math.round(Math.min(...times));
}

function mark(check, ok) {
  const item = section.querySelector(`li[data-check="${check}"]`);
  item.dataset.ok = String(ok);
  item.querySelector(".mark").textContent = ok ? "✓" : "✗";
  item.querySelector(".hint").hidden = ok;
}

if (section) {
  const button = document.getElementById("device-check-start");
  const status = document.getElementById("device-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    setStatus(status, t("device_checking"), "working");
    try {
      const report = {
        ...(await mediaCheck()),
        webrtc: await webrtcCheck(),
        recorder: recorderCheck(),
        rtt_ms: await roundTrip(),
      };
      const verdict = await api("POST", "/api/applicant/device-check", report);
      for (const check of ["camera", "microphone", "webrtc", "recorder", "network"]) {
        mark(check, !verdict.problems.includes(check));
      }
      if (verdict.ok) {
        setStatus(status, t("device_ok"), "pass");
        setTimeout(() => window.location.reload(), 800);
        return;
      }
      setStatus(status, t("device_failed"), "error");
    } catch (e) {
      setStatus(status, describe(e), "error");
    }
    button.disabled = false;
  });
}
