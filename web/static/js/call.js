// The video call, for the applicant's phone and the manager's console alike.
// Media goes to the bank's server and back (never peer to peer); signalling runs
// over the call's WebSocket. A dropped socket or a failed connection is retried
// with a fresh peer connection, which the server accepts within its grace period.
import { api } from "./common.js";

const RETRY_MS = 1500;
// Two temporal layers: every other frame is one that no later frame needs.
const VIDEO_LAYERS = "L1T2";

// The call in progress on this page, if any: a liveness check at signing runs on its video.
let active = null;
export function activeCall() {
  return active;
}

export function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
    // Some networks never finish gathering: go with what there is after 3 s.
    setTimeout(resolve, 3000);
  });
}

export class CallClient {
  // layeredVideo: send the camera in two temporal layers (VIDEO_LAYERS). The
  // server's identity checks then decode only the base layer, half the frames;
  // the other side and the recording still get every frame.
  constructor(applicationId, {
    localVideo, remoteVideo, onPeer, onQuality, onEnded, onError, layeredVideo = false,
  }) {
    this.id = applicationId;
    this.layeredVideo = layeredVideo;
    this.localVideo = localVideo;
    this.remoteVideo = remoteVideo;
    this.onPeer = onPeer || (() => {});
    this.onQuality = onQuality || (() => {});
    this.onEnded = onEnded || (() => {});
    this.onError = onError || (() => {});
    this.facing = "user";
    this.ended = false;
    this.pc = null;
    this.socket = null;
    // Listeners for the server's identity checks on this call (call-check.js).
    this.checkListeners = new Set();
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: this.facing, width: { ideal: 640 }, height: { ideal: 480 } },
      audio: true,
    });
    this.localVideo.srcObject = this.stream;
    active = this;
    this.openSocket();
  }

  openSocket() {
    if (this.ended) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/calls/${this.id}/signal`);
    this.socket = socket;
    socket.addEventListener("open", () => this.connect());
    socket.addEventListener("message", (event) => this.handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      if (this.socket === socket && !this.ended) setTimeout(() => this.openSocket(), RETRY_MS);
    });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  async connect() {
    if (this.pc) this.pc.close();
    const ice = await api("GET", `/api/calls/${this.id}/ice`);
    const pc = new RTCPeerConnection({
      iceServers: ice.iceServers,
      iceTransportPolicy: ice.iceTransportPolicy,
    });
    this.pc = pc;
    this.stream.getTracks().forEach((track) => this.addTrack(pc, track));
    const remote = new MediaStream();
    this.remoteVideo.srcObject = remote;
    pc.addEventListener("track", (event) => remote.addTrack(event.track));
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc && pc.connectionState === "failed" && !this.ended) {
        setTimeout(() => this.connect(), RETRY_MS);
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    this.send({ type: "offer", sdp: pc.localDescription.sdp });
  }

  addTrack(pc, track) {
    if (track.kind === "video" && this.layeredVideo) {
      try {
        pc.addTransceiver(track, {
          streams: [this.stream],
          sendEncodings: [{ scalabilityMode: VIDEO_LAYERS }],
        });
        return;
      } catch (e) {
        // A browser without temporal layers: one layer, all decoded by the server.
      }
    }
    pc.addTrack(track, this.stream);
  }

  async handle(message) {
    switch (message.type) {
      case "answer":
        await this.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        break;
      case "peer":
        this.onPeer(message.state);
        break;
      case "quality":
        this.onQuality(message);
        break;
      case "ended":
        this.finish(message.reason);
        break;
      case "reconnect":
        // The other side's browser has a video codec this one must send too.
        await this.connect();
        break;
      case "live_check":
      case "document_check":
        this.checkListeners.forEach((listener) => listener(message));
        break;
      case "error":
        this.onError(message);
        break;
      default:
        break;
    }
  }

  setMuted(kind, muted) {
    this.stream.getTracks().filter((t) => t.kind === kind).forEach((t) => { t.enabled = !muted; });
  }

  // Front or back camera (to show a document); the connection stays as it is.
  async switchCamera() {
    this.facing = this.facing === "user" ? "environment" : "user";
    await this.freshCamera(this.facing);
  }

  // A fresh capture of the camera, in place of the call's: phones often cannot open
  // one camera twice, so the old track is stopped first, and the new one goes out on
  // the same connection.
  // Returns a stream holding only the new video track.
  async freshCamera(facing = "user") {
    const sender = this.pc && this.pc.getSenders().find((s) => s.track && s.track.kind === "video");
    this.stream.getVideoTracks().forEach((old) => { this.stream.removeTrack(old); old.stop(); });
    const fresh = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: facing, width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    const [track] = fresh.getVideoTracks();
    if (sender) await sender.replaceTrack(track);
    this.stream.addTrack(track);
    this.localVideo.srcObject = this.stream;
    return fresh;
  }

  leave() {
    this.send({ type: "leave" });
    this.finish("left");
  }

  finish(reason) {
    if (this.ended) return;
    this.ended = true;
    if (active === this) active = null;
    if (this.pc) this.pc.close();
    if (this.socket) this.socket.close();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.onEnded(reason);
  }
}
