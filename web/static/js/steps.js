// The applicant's steps: one task per screen. The server renders the current step;
// a finished task moves on here without a reload when the next step needs none.
import { labelFor, t } from "./common.js";

const nav = document.getElementById("steps");

export function showStep(name) {
  if (!nav) return;
  const names = [...nav.querySelectorAll("li[data-step]")].map((li) => li.dataset.step);
  nav.dataset.current = name;
  nav.querySelectorAll("li[data-step]").forEach((li) => {
    if (li.dataset.step === name) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  document.getElementById("step-text").textContent =
    `${t("step", { n: names.indexOf(name) + 1, total: names.length })}` +
    ` · ${labelFor("step_", name)}`;
  document.querySelectorAll("section[data-steps]").forEach((section) => {
    section.hidden = !section.dataset.steps.split(" ").includes(name);
  });
  window.scrollTo({ top: 0 });
}
