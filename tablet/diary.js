// The questionnaires the tablet asks (docs/questionnaires.md): the symptom diary and the monthly
// question of the patient-reported outcome (docs/outcomes.md). Their questions come with today's
// plan from the platform (Danish and English), the answers go through the same outbox as
// readings, on the device channel's responses topic, and stay there until their receipt.
import { TEXTS } from "./i18n.js";
import * as store from "./store.js";
import { rfc3339 } from "./transport.js";

const TZ = "Europe/Copenhagen";

// kind: the key in today's plan, the screen's name and the prefix of its texts and element ids.
// diary: asked on the schedule's diary days, once a day. pro: asked while the platform says it is
// due; an answer still waiting in the outbox (offline for days, say) is her answer, not a reason
// to ask again; a diary waiting from another day does not answer today's.
const KINDS = {
  diary: { asked: (q) => q.due_today, answered: (q) => q.answered_today, waitingAnswers: false },
  pro: { asked: (q) => q.due, answered: () => false, waitingAnswers: true },
};

function localDay(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(date);
}

// The questionnaire of today's plan, or null when the platform has not given one yet.
export function definition(today, kind) {
  return (today && today[kind]) || null;
}

async function waiting(questionnaire) {
  return (await store.outbox()).some((batch) => (batch.responses || []).some(
    (response) => response.questionnaire === questionnaire));
}

// Answered: the platform says so, this tablet sent it today (perhaps still offline) or, for the
// monthly question, the answer is still in the outbox.
export async function answeredToday(today, kind) {
  const q = definition(today, kind);
  if (q && KINDS[kind].answered(q)) return true;
  if ((await store.get(`${kind}-sent-day`)) === localDay()) return true;
  return Boolean(q && KINDS[kind].waitingAnswers && (await waiting(q.questionnaire)));
}

export async function due(today, kind) {
  const q = definition(today, kind);
  return Boolean(q && KINDS[kind].asked(q) && !(await answeredToday(today, kind)));
}

function yesNoItems(q) {
  return q.items.filter((item) => item.kind === "boolean");
}

function text(item, lang) {
  return lang === "da" ? item.text_da : item.text_en;
}

// The questionnaire's screen. ctx: { kind, lang, el, show, transport, today, onDone }.
export function screen(ctx, message = "", answers = {}) {
  const t = TEXTS[ctx.lang];
  const { kind, el } = ctx;
  const q = definition(ctx.today, kind);
  const questions = yesNoItems(q).map((item) => {
    const name = `q-${item.id}`;
    const option = (value, label) => el("label", { class: "choice" },
      el("input", { type: "radio", name, value: String(value), required: "required",
                    checked: answers[item.id] === value ? "checked" : null }), label);
    return el("fieldset", { class: "question", "data-item": item.id },
      el("legend", { text: text(item, ctx.lang) }),
      el("div", { class: "choices" }, option(true, t.yes), option(false, t.no)));
  });
  const noteItem = q.items.find((item) => item.kind === "text");
  const note = noteItem ? el("textarea", { id: "diary-note", name: "note", rows: "3",
                                           maxlength: String(noteItem.max_chars) }) : null;
  if (note && answers.note) note.value = answers.note;
  const error = el("p", { id: `${kind}-error`, class: "error", role: "alert", text: message });
  // novalidate: the missing answers are said in words (diaryUnanswered), not by the browser.
  const form = el("form", { class: `stack ${kind}`, "aria-describedby": `${kind}-intro`, novalidate: "novalidate" },
    ...questions,
    noteItem ? [el("label", { for: "diary-note", text: text(noteItem, ctx.lang) }), note] : [],
    error,
    el("button", { type: "submit", class: "primary", id: `${kind}-send`, text: t.diarySend }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(ctx, form, q);
  });
  ctx.show(kind, el("h1", { text: ctx.lang === "da" ? q.title_da : q.title_en }),
           el("p", { id: `${kind}-intro`, text: t[`${kind}Intro`] }), form,
           el("button", { class: "secondary", type: "button", onclick: () => ctx.onDone(),
                          text: t.back }));
}

function collect(form, q) {
  const answers = {};
  for (const item of q.items) {
    if (item.kind === "boolean") {
      const checked = form.querySelector(`input[name="q-${item.id}"]:checked`);
      if (checked) answers[item.id] = checked.value === "true";
    } else {
      const value = form.querySelector("#diary-note").value.trim();
      if (value) answers[item.id] = value;
    }
  }
  return answers;
}

async function submit(ctx, form, q) {
  const answers = collect(form, q);
  const unanswered = q.items.filter((item) => item.required && !(item.id in answers));
  if (unanswered.length) {
    screen(ctx, TEXTS[ctx.lang].diaryUnanswered(yesNoItems(q).length), answers);
    return;
  }
  const response = { questionnaire: q.questionnaire, authored: rfc3339(new Date()),
                     items: Object.entries(answers).map(([id, answer]) => ({ id, answer })) };
  await ctx.transport.sendResponses([response]);
  await store.put(`${ctx.kind}-sent-day`, localDay());
  await sentScreen(ctx);
}

// Thanks, and whether the answers have reached the platform yet (the outbox holds them until
// the receipt).
export async function sentScreen(ctx) {
  const t = TEXTS[ctx.lang];
  const pending = await waiting(definition(ctx.today, ctx.kind).questionnaire);
  ctx.show(`${ctx.kind}-sent`, ctx.el("h1", { text: t.diaryThanks }),
           ctx.el("p", { class: "state", "data-state": pending ? "pending" : "sent",
                         text: pending ? t.diaryPending : t.diaryDelivered }),
           ctx.el("button", { class: "primary", onclick: () => ctx.onDone(), text: t.toHome }));
}
