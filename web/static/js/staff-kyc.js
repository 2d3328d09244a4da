// The manager's and reviewer's identity panel, refreshed every few seconds so
// results appear while the applicant works through the steps.
import { api, labelFor, t } from "./common.js";
import { renderMatch, renderReading, renderSourceCheck } from "./documents.js";

const panel = document.getElementById("kyc");
const REFRESH_MS = 4000;

function line(text, className) {
  const node = document.createElement("p");
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A thumbnail of one evidence image (served by hash, each view audited), linking to
// the full size.
function thumb(digest, alt) {
  const url = `/api/applications/${panel.dataset.application}/evidence/${digest}`;
  const link = document.createElement("a");
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener";
  const image = document.createElement("img");
  image.src = url;
  image.alt = alt;
  image.loading = "lazy";
  image.className = "thumb";
  link.append(image);
  return link;
}

function render(kyc) {
  panel.querySelectorAll(".kyc-doc[data-kind]").forEach((box) => {
    const kind = box.dataset.kind;
    const result = box.querySelector(".result");
    if (kind === "face_match") {
      if (kyc.face_match) {
        renderMatch(result, kyc.face_match, true);
        result.append(thumb(kyc.face_match.probe_sha256, t("face_match_title")));
      }
      return;
    }
    if (kind === "liveness") {
      const attempt = kyc.liveness;
      if (!attempt) return;
      result.replaceChildren(line(
        `${labelFor("liveness_status_", attempt.status)} · ` +
        attempt.challenges.map((c) => {
          const done = attempt.result ? (attempt.result.detected[c] ? "✓" : "✗") : "…";
          return `${done} ${labelFor("challenge_", c)}`;
        }).join(" · "),
        attempt.status === "passed" ? "pass" : attempt.status === "failed" ? "fail" : "",
      ));
      // Where the frames came from: an uploaded clip is the weaker source, and
      // the manager re-checks it on the call before the contract.
      if (attempt.result && attempt.result.source) {
        const source = attempt.result.source;
        result.append(line(`${t("kyc_source")}: ${labelFor("kyc_source_", source)}`,
          source === "upload" ? "fail" : ""));
      }
      if (attempt.result && attempt.result.face_decision) {
        result.append(line(`${labelFor("face_", attempt.result.face_decision)} · ` +
          `${t("face_distance")} ${attempt.result.face_distance}`));
      }
      if (attempt.result && attempt.result.passive) {
        const passive = attempt.result.passive;
        result.append(line(`${t("passive_title")}: ${labelFor("passive_", passive.decision)}` +
          ` · ${t("passive_score")} ${passive.score}`, passive.decision === "spoof" ? "fail" : ""));
      }
      const frames = (attempt.result && attempt.result.evidence_frames) || {};
      const strip = document.createElement("div");
      strip.className = "thumbs";
      for (const [name, digest] of Object.entries(frames)) {
        strip.append(thumb(digest, `${t("liveness_title")} · ${labelFor("challenge_", name)}`));
      }
      if (strip.childElementCount) result.append(strip);
      return;
    }
    const reading = kyc.documents[kind];
    if (reading) {
      renderReading(result, reading, true);
      const source = { id_front: "identity", licence: "registry" }[kind];
      const answer = source && (kyc.source_checks || {})[source];
      if (answer) renderSourceCheck(result, answer);
      result.append(thumb(reading.image_sha256, labelFor("doc_", kind)));
      box.querySelector(".hash").textContent = `SHA-256 ${reading.image_sha256}`;
    }
  });
}

async function refresh() {
  if (document.visibilityState === "visible") {
    try {
      render(await api("GET", panel.dataset.url));
    } catch (e) {
      // A failed refresh keeps what is shown; the next one tries again.
    }
  }
  setTimeout(refresh, REFRESH_MS);
}

if (panel) refresh();
