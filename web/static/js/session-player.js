// The reviewer's playback: both participants' recordings on one wall clock, with
// the audit log's key moments as jump points, reconnection gaps and quality history.
import { api, describe, labelFor, t } from "./common.js";

const section = document.getElementById("session");
const TICK_MS = 200;
// Further apart than this, a video is re-seeked to the shared clock.
const DRIFT_S = 0.35;

function fmt(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

if (section) {
  const id = section.dataset.id;
  const status = document.getElementById("session-status");
  const seek = document.getElementById("session-seek");
  const clock = document.getElementById("session-clock");
  const toggle = document.getElementById("session-toggle");
  const videos = {
    applicant: document.getElementById("play-applicant"),
    manager: document.getElementById("play-manager"),
  };
  let data = null;
  let t0 = 0;
  let span = 1;
  let position = 0; // ms after t0
  let playing = false;
  let lastTick = 0;
  const clockTime = new Intl.DateTimeFormat(document.documentElement.lang, {
    timeZone: section.dataset.zone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });

  const segmentsOf = (side) => data.segments
    .filter((s) => s.side === side)
    .map((s) => ({ ...s, start: Date.parse(s.started_at) - t0, end: Date.parse(s.started_at) - t0 + s.duration_seconds * 1000 }));

  function sync() {
    for (const [side, video] of Object.entries(videos)) {
      const segment = segmentsOf(side).find((s) => position >= s.start && position < s.end);
      document.getElementById(`gap-${side}`).hidden = Boolean(segment) || !data.segments.length;
      if (!segment) {
        if (!video.paused) video.pause();
        continue;
      }
      const want = (position - segment.start) / 1000;
      if (video.dataset.file !== segment.file) {
        video.dataset.file = segment.file;
        video.src = segment.url;
        video.addEventListener("loadedmetadata", () => { video.currentTime = want; }, { once: true });
      } else if (video.readyState >= 1 && Math.abs(video.currentTime - want) > DRIFT_S) {
        video.currentTime = want;
      }
      if (playing && video.paused) video.play().catch(() => {});
      if (!playing && !video.paused) video.pause();
    }
    seek.value = String(Math.round((position / span) * 1000));
    clock.value = `${fmt(position)} / ${fmt(span)}`;
    section.dataset.position = String(Math.round(position));
  }

  function tick(now) {
    if (playing) {
      position = Math.min(span, position + (now - lastTick));
      if (position >= span) {
        playing = false;
        toggle.textContent = t("session_play");
      }
    }
    lastTick = now;
    sync();
  }

  function jump(ms) {
    position = Math.max(0, Math.min(span, ms));
    sync();
  }

  function item(parent, label, at) {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = at;
    time.textContent = clockTime.format(new Date(at));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    button.addEventListener("click", () => jump(Date.parse(at) - t0));
    li.append(time, " ", button);
    parent.append(li);
    return li;
  }

  function render() {
    const times = [
      ...data.segments.flatMap((s) => [Date.parse(s.started_at), Date.parse(s.started_at) + s.duration_seconds * 1000]),
      ...data.markers.filter((m) => m.kind !== "document_read").map((m) => Date.parse(m.at)),
    ];
    t0 = Math.min(...times);
    span = Math.max(1000, Math.max(...times) - t0);
    // Where the slider's ends are, for tests and tools that drive the player.
    section.dataset.start = new Date(t0).toISOString();
    section.dataset.span = String(span);
    const bar = document.getElementById("session-markers");
    const list = document.getElementById("session-marker-list");
    for (const marker of data.markers) {
      let label = labelFor("marker_", marker.kind, marker);
      if (marker.document) label += ` · ${labelFor("doc_", marker.document)}`;
      if (marker.side) label += ` · ${labelFor("session_", marker.side)}`;
      // Where a liveness decision's frames came from; whether a document shown agreed.
      if (marker.source) label += ` · ${labelFor("kyc_source_", marker.source)}`;
      if (marker.kind === "document_shown") label += marker.passed ? " ✓" : " ✗";
      const li = item(list, label, marker.at);
      li.dataset.kind = marker.kind;
      const offset = Date.parse(marker.at) - t0;
      if (offset >= 0 && offset <= span) {
        const tickMark = document.createElement("span");
        tickMark.style.left = `${(offset / span) * 100}%`;
        tickMark.title = label;
        bar.append(tickMark);
      }
    }
    const gaps = document.getElementById("session-gaps");
    if (data.gaps.length) gaps.replaceChildren();
    for (const gap of data.gaps) {
      const end = gap.to ? clockTime.format(new Date(gap.to)) : t("session_gap_open");
      item(gaps, `${labelFor("session_", gap.side)} → ${end}`, gap.from);
    }
    const quality = document.getElementById("session-quality");
    if (data.quality.length) quality.replaceChildren();
    for (const q of data.quality) {
      const facts = [q.rtt_ms != null ? `RTT ${q.rtt_ms} ms` : null,
        q.loss_percent != null ? `loss ${q.loss_percent}%` : null,
        q.bitrate_kbps != null ? `${q.bitrate_kbps} kbit/s` : null].filter(Boolean).join(", ");
      const label = `${labelFor("session_", q.side)}: ${labelFor("quality_", q.badge)} (${facts})`;
      item(quality, label, q.at).dataset.badge = q.badge;
    }
  }

  toggle.addEventListener("click", () => {
    playing = !playing;
    if (playing && position >= span) position = 0;
    toggle.textContent = playing ? t("session_pause") : t("session_play");
    sync();
  });
  seek.addEventListener("input", () => jump((Number(seek.value) / 1000) * span));

  document.getElementById("validation-run").addEventListener("click", async (event) => {
    const out = document.getElementById("validation-report");
    event.target.disabled = true;
    out.textContent = t("session_loading");
    try {
      const report = await api("GET", `/api/applications/${id}/contract/validation`);
      out.replaceChildren();
      const head = document.createElement("p");
      head.className = report.verdict === "invalid" ? "fail" : "pass";
      head.dataset.verdict = report.verdict;
      head.textContent = `${t("validation_verdict")}: ${report.verdict} · ${report.contract_number} · SHA-256 ${report.sha256}`;
      out.append(head);
      for (const signature of report.signatures || []) {
        const p = document.createElement("p");
        p.className = signature.valid ? "pass" : "fail";
        p.textContent = `${t("validation_signature")} ${signature.field_name} (${signature.kind}): ` +
          `${signature.signer} · ${signature.timestamp || signature.signing_time || ""} · ` +
          `${signature.coverage} · LTV ${signature.ltv} ${(signature.problems || []).join("; ")}`;
        out.append(p);
      }
      for (const problem of report.problems || []) {
        const p = document.createElement("p");
        p.className = "fail";
        p.textContent = problem;
        out.append(p);
      }
    } catch (e) {
      out.textContent = describe(e);
    } finally {
      event.target.disabled = false;
    }
  });

  api("GET", `/api/applications/${id}/timeline`).then((answer) => {
    data = answer;
    if (!data.segments.length && !data.markers.length) {
      status.textContent = t("session_none");
      return;
    }
    render();
    status.textContent = `${data.segments.length} × WebM · ${fmt(span)}`;
    section.dataset.ready = "true";
    lastTick = performance.now();
    setInterval(() => tick(performance.now()), TICK_MS);
    sync();
  }).catch((e) => { status.textContent = describe(e); });
}
