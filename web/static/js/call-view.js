// The call panel both pages share: videos, the quality badge, the peer's state and
// the mute buttons. Each page adds its own controls and decides when to start.
import { labelFor, t } from "./common.js";
import { CallClient } from "./call.js";

export function openCall(panel, applicationId, { onEnded, layeredVideo = false } = {}) {
  const status = panel.querySelector(".call-status");
  const badge = panel.querySelector(".quality");
  const client = new CallClient(applicationId, {
    layeredVideo,
    localVideo: panel.querySelector("video.local"),
    remoteVideo: panel.querySelector("video.remote"),
    onPeer: (state) => {
      status.textContent = labelFor("call_peer_", state);
      panel.dataset.peer = state;
    },
    onQuality: (report) => {
      const own = report.self ? report.self.badge : "unknown";
      badge.textContent = `${t("call_quality")}: ${labelFor("quality_", own)}`;
      badge.dataset.quality = own;
    },
    onEnded: (reason) => {
      status.textContent = t("call_ended");
      panel.dataset.ended = reason;
      if (onEnded) onEnded(reason);
    },
    onError: (error) => { status.textContent = error.message; },
  });
  panel.querySelectorAll("[data-mute]").forEach((button) => {
    button.addEventListener("click", () => {
      const muted = button.getAttribute("aria-pressed") !== "true";
      client.setMuted(button.dataset.mute, muted);
      button.setAttribute("aria-pressed", String(muted));
    });
  });
  panel.hidden = false;
  client.start().catch((e) => { status.textContent = `${t("call_camera_denied")} (${e.message})`; });
  return client;
}
