// The verification session before the interview: the camera goes to the bank's
// server over WebRTC (no manager on it). The server sends each prompt when it
// chooses and its verdict as soon as it has judged the frames it received itself;
// the page only shows them. Resolves to the server's result; rejects with
// SessionUnavailable when no connection could be made (the page then records a
// clip instead, the weaker fallback), or with an Error when the session was cut.
import { api } from "./common.js";
import { gatheringComplete } from "./call.js";

// ICE, DTLS and the first frames: beyond this the network blocks the media path.
const CONNECT_MS = 15000;

export class SessionUnavailable extends Error {}

// What the browser says about the camera: the server records it, and flags the
// names virtual-camera software uses.
function cameraReport(stream) {
  const [track] = stream.getVideoTracks();
  const settings = track.getSettings ? track.getSettings() : {};
  return {
    type: "camera",
    label: (track.label || "").slice(0, 200),
    width: settings.width ?? null,
    height: settings.height ?? null,
    frame_rate: settings.frameRate ?? null,
    facing_mode: settings.facingMode ?? null,
  };
}

export function runVerificationSession(applicationId, stream, { onPrompt, onVerdict }) {
  return new Promise((resolve, reject) => {
    let pc = null;
    let settled = false;
    let connected = false;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/applicant/verification`);

    function end(outcome, error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (pc) pc.close();
      if (socket.readyState <= WebSocket.OPEN) socket.close();
      if (error) reject(error); else resolve(outcome);
    }
    const timer = setTimeout(() => {
      if (!connected) end(null, new SessionUnavailable("no media connection"));
    }, CONNECT_MS);

    socket.addEventListener("open", async () => {
      try {
        const ice = await api("GET", `/api/calls/${applicationId}/ice`);
        pc = new RTCPeerConnection({
          iceServers: ice.iceServers,
          iceTransportPolicy: ice.iceTransportPolicy,
        });
        pc.addEventListener("connectionstatechange", () => {
          if (pc.connectionState === "connected") connected = true;
          if (pc.connectionState === "failed") end(null, new SessionUnavailable("ice failed"));
        });
        stream.getVideoTracks().forEach((track) => pc.addTrack(track, stream));
        socket.send(JSON.stringify(cameraReport(stream)));
        await pc.setLocalDescription(await pc.createOffer());
        await gatheringComplete(pc);
        socket.send(JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }));
      } catch (e) {
        end(null, new SessionUnavailable(e.message));
      }
    });
    socket.addEventListener("message", async (event) => {
      const message = JSON.parse(event.data);
      switch (message.type) {
        case "answer":
          await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
          break;
        case "prompt":
          onPrompt(message);
          break;
        case "verdict":
          onVerdict(message);
          break;
        case "result":
          end(message);
          break;
        case "interrupted":
          end(null, message.reason === "no_video"
            ? new SessionUnavailable(message.reason)
            : new Error(message.reason));
          break;
        default:
          break;
      }
    });
    // Refused before it opened (a 409 the WebSocket API does not show): the
    // upload path asks again and shows the server's reason.
    socket.addEventListener("close", () => {
      end(null, connected ? new Error("connection_lost") : new SessionUnavailable("closed"));
    });
  });
}
