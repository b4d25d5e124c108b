// The symptom diary (docs/questionnaires.md): the questions come with today's plan from the
// platform (Danish and English), the answers go through the same outbox as readings, on the
// device channel's responses topic, and stay there until their receipt.
import { TEXTS } from "./i18n.js";
import * as store from "./store.js";
import { rfc3339 } from "./transport.js";

const TZ = "Europe/Copenhagen";

function localDay(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(date);
}

// The diary of today's plan, or null when the platform has not given one yet.
export function definition(today) {
  return (today && today.diary) || null;
}

// Answered today: the platform says so, or this tablet sent it today (perhaps still offline).
export async function answeredToday(today) {
  const diary = definition(today);
  if (diary && diary.answered_today) return true;
  return (await store.get("diary-sent-day")) === localDay();
}

export async function due(today) {
  const diary = definition(today);
  return Boolean(diary && diary.due_today && !(await answeredToday(today)));
}

function text(item, lang) {
  return lang === "da" ? item.text_da : item.text_en;
}

// The diary screen. ctx: { lang, el, show, transport, today, onDone }.
export function screen(ctx, message = "", answers = {}) {
  const t = TEXTS[ctx.lang];
  const diary = definition(ctx.today);
  const { el } = ctx;
  const questions = diary.items.filter((item) => item.kind === "boolean").map((item) => {
    const name = `q-${item.id}`;
    const option = (value, label) => el("label", { class: "choice" },
      el("input", { type: "radio", name, value: String(value), required: "required",
                    checked: answers[item.id] === value ? "checked" : null }), label);
    return el("fieldset", { class: "question", "data-item": item.id },
      el("legend", { text: text(item, ctx.lang) }),
      el("div", { class: "choices" }, option(true, t.yes), option(false, t.no)));
  });
  const noteItem = diary.items.find((item) => item.kind === "text");
  const note = noteItem ? el("textarea", { id: "diary-note", name: "note", rows: "3",
                                           maxlength: String(noteItem.max_chars) }) : null;
  if (note && answers.note) note.value = answers.note;
  const error = el("p", { id: "diary-error", class: "error", role: "alert", text: message });
  // novalidate: the missing answers are said in words (diaryUnanswered), not by the browser.
  const form = el("form", { class: "stack diary", "aria-describedby": "diary-intro", novalidate: "novalidate" },
    ...questions,
    noteItem ? [el("label", { for: "diary-note", text: text(noteItem, ctx.lang) }), note] : [],
    error,
    el("button", { type: "submit", class: "primary", id: "diary-send", text: t.diarySend }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(ctx, form, diary);
  });
  ctx.show("diary", el("h1", { text: ctx.lang === "da" ? diary.title_da : diary.title_en }),
           el("p", { id: "diary-intro", text: t.diaryIntro }), form,
           el("button", { class: "secondary", type: "button", onclick: () => ctx.onDone(),
                          text: t.back }));
}

function collect(form, diary) {
  const answers = {};
  for (const item of diary.items) {
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

async function submit(ctx, form, diary) {
  const answers = collect(form, diary);
  const unanswered = diary.items.filter((item) => item.required && !(item.id in answers));
  if (unanswered.length) {
    screen(ctx, TEXTS[ctx.lang].diaryUnanswered, answers);
    return;
  }
  const response = { questionnaire: diary.questionnaire, authored: rfc3339(new Date()),
                     items: Object.entries(answers).map(([id, answer]) => ({ id, answer })) };
  await ctx.transport.sendResponses([response]);
  await store.put("diary-sent-day", localDay());
  await sentScreen(ctx);
}

// Thanks, and whether the answers have reached the platform yet (the outbox holds them until
// the receipt).
export async function sentScreen(ctx) {
  const t = TEXTS[ctx.lang];
  const waiting = (await store.outbox()).some((batch) => batch.responses);
  ctx.show("diary-sent", ctx.el("h1", { text: t.diaryThanks }),
           ctx.el("p", { class: "state", "data-state": waiting ? "pending" : "sent",
                         text: waiting ? t.diaryPending : t.diaryDelivered }),
           ctx.el("button", { class: "primary", onclick: () => ctx.onDone(), text: t.toHome }));
}
