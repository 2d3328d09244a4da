// Rendering document readings (fields and checks) for the applicant and staff pages.
import { labelFor, t } from "./common.js";

const ID_FIELDS = [
  "name", "sex", "ethnicity", "birth_date", "address", "id_number", "issuing_authority",
  "valid_from", "valid_until",
];
const LICENCE_FIELDS = [
  "company_name", "credit_code", "registration_number", "company_type", "composition_form",
  "legal_representative", "registered_capital", "established", "business_term", "address",
  "business_scope",
];

function text(tag, value, className) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (className) node.className = className;
  return node;
}

function displayValue(name, value) {
  if (value === "long-term") return t("long_term");
  if (name === "business_term") {
    const [from, until] = value.split("/");
    return `${from} – ${until === "long-term" ? t("long_term") : until}`;
  }
  return value;
}

export function renderMatch(container, match, showDistance = false) {
  container.replaceChildren();
  const passed = match.decision === "match";
  const line = text("p", `${passed ? "✓" : "✗"} ${labelFor("face_", match.decision)}`,
    passed ? "pass" : "fail");
  if (showDistance) line.append(text("span", ` · ${t("face_distance")} ${match.distance}`, "muted"));
  container.append(line);
}

export function renderReading(container, reading, showConfidence = false) {
  container.replaceChildren();
  const facts = document.createElement("dl");
  facts.className = "facts";
  for (const name of reading.kind === "licence" ? LICENCE_FIELDS : ID_FIELDS) {
    const field = reading.fields[name];
    if (!field) continue;
    const value = text("dd", displayValue(name, field.value));
    if (showConfidence) value.append(text("span", ` (${field.confidence.toFixed(2)})`, "muted"));
    const term = text("dt", labelFor("field_", name));
    // Sole traders, partnerships and branches print 经营者, 执行事务合伙人 or 负责人
    // where a company prints 法定代表人: show which one the licence carries.
    if (name === "legal_representative" && field.label && field.label !== "法定代表人") {
      term.append(text("span", ` (${field.label})`, "muted"));
    }
    facts.append(term, value);
  }
  container.append(facts, checkList(reading.checks));
}

function checkList(checks) {
  const list = document.createElement("ul");
  list.className = "checks";
  for (const check of checks) {
    const item = text("li", `${check.passed ? "✓" : "✗"} ${labelFor("check_", check.name)}`,
      check.passed ? "pass" : "fail");
    // Checks stored before reasons existed carry only their English message.
    const why = check.reason ? labelFor("check_reason_", check.reason, check.values) : check.message;
    if (!check.passed) item.append(text("span", ` — ${why}`, "muted"));
    list.append(item);
  }
  return list;
}

// What the identity platform or the business registry said of this document,
// below the document's own checks; a fake source says so.
export function renderSourceCheck(container, answer) {
  const title = text("h4", labelFor("source_", answer.kind));
  if (answer.source === "fake") title.append(text("span", ` (${t("source_fake")})`, "muted"));
  const when = text("p", `${answer.checked_at} · ${t("source_reference")} ${answer.reference || "—"}`,
    "muted");
  container.append(title, when, checkList(answer.checks));
}
