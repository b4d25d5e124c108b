// The patient's symptom diary (docs/questionnaires.md) on the patient page: her last answers,
// newest first, with the symptoms she answered yes to (the Anthonisen major symptoms emphasised,
// as one of them is already an alert) and her free text. Each symptom's label comes with the
// answer from the questionnaire definition, so the card shows the question she was asked.

import { api } from "./session.js";
import { esc, lang, t, when } from "./i18n.js";

const SHOWN = 14;

function symptom(answer) {
  const label = esc(lang() === "da" ? answer.text_da : answer.text_en);
  return answer.category === "major"
    ? `<li class="diary-major"><strong>${label}</strong> <span class="muted">(${t("diary_major")})</span></li>`
    : `<li>${label}</li>`;
}

function entry(diary) {
  const yes = diary.answers.filter((a) => a.answer === true);
  const symptoms = yes.length ? `<ul class="diary-symptoms">${yes.map(symptom).join("")}</ul>`
    : `<p class="muted">${t("diary_no_symptoms")}</p>`;
  const note = diary.note ? `<blockquote class="diary-note">${esc(diary.note)}</blockquote>` : "";
  const late = diary.late ? ` · ${t("diary_late", { at: when(diary.received_at) })}` : "";
  return `<li class="diary-entry"><div><b>${when(diary.authored_at)}</b><span class="muted">${late}</span></div>
    ${symptoms}${note}</li>`;
}

/** Draws the diary card into ``box``. */
export async function render(box, id) {
  box.innerHTML = `<h2>${t("diary")}</h2><ol class="diary" id="diary-list"></ol>
    <p class="muted" id="diary-none" hidden>${t("diary_none")}</p>`;
  try {
    const diaries = await api(`/api/v1/patients/${id}/diary?limit=${SHOWN}`);
    box.querySelector("#diary-list").innerHTML = diaries.map(entry).join("");
    box.querySelector("#diary-none").hidden = diaries.length > 0;
  } catch (error) {
    box.querySelector("#diary-none").hidden = false;
    box.querySelector("#diary-none").textContent = error.message;
  }
}
