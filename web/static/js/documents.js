// Rendering document readings (fields and checks) for the applicant and staff pages.
import { messages } from "./common.js";

const FIELD_ORDER = [
  "name", "sex", "ethnicity", "birth_date", "address", "id_number", "issuing_authority",
  "valid_from", "valid_until", "company_name", "credit_code", "company_type",
  "legal_representative", "registered_capital", "established", "business_term", "address",
  "business_scope",
];

function text(tag, value, className) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (className) node.className = className;
  return node;
}

function displayValue(value) {
  return value === "long-term" ? messages.long_term : value.replace("/long-term", ` – ${messages.long_term}`);
}

export function renderReading(container, reading) {
  container.replaceChildren();
  const facts = document.createElement("dl");
  facts.className = "facts";
  for (const name of FIELD_ORDER) {
    const field = reading.fields[name];
    if (!field || facts.querySelector(`[data-field="${name}"]`)) continue;
    const term = text("dt", messages[`field_${name}`] || name);
    term.dataset.field = name;
    facts.append(term, text("dd", displayValue(field.value)));
  }
  const checks = document.createElement("ul");
  checks.className = "checks";
  for (const check of reading.checks) {
    const item = text("li", `${check.passed ? "✓" : "✗"} ${messages[`check_${check.name}`] || check.name}`,
      check.passed ? "pass" : "fail");
    if (!check.passed) item.append(text("span", ` — ${check.message}`, "muted"));
    checks.append(item);
  }
  container.append(facts, checks);
}
