-- Questionnaire responses sent by tablets on kol/v1/d/{device_id}/responses (the symptom diary;
-- docs/questionnaires.md). One row per (patient, questionnaire, authored): a response arriving
-- twice, in the same message re-sent or in another message, is stored once, as readings are.
-- The service role's privileges come from the owner's default privileges (deploy/postgres/roles.sql).
create table questionnaire_responses (
    patient_id     bigint not null references patients,
    questionnaire  text not null,
    authored_at    timestamptz not null,
    answers        jsonb not null,
    -- The symptom diary's symptoms as a bit mask (core/questionnaires.py), the value the alert
    -- engine evaluates; null for other questionnaires.
    symptom_mask   smallint check (symptom_mask between 0 and 127),
    device_id      text not null,
    msg_id         text not null,
    received_at    timestamptz not null default now(),
    late           boolean not null default false,
    primary key (patient_id, questionnaire, authored_at)
);
create index questionnaire_responses_received on questionnaire_responses (received_at);

-- What the alert engine evaluates: the readings and, as the series 'symptoms', every answered
-- symptom diary. The engine's queries read this view, so diaries share the readings' history
-- windows, recovery after a crash and re-evaluation.
create view alert_series as
    select patient_id, type, measured_at, value, late, received_at from readings
    union all
    select patient_id, 'symptoms', authored_at, symptom_mask, late, received_at
    from questionnaire_responses where symptom_mask is not null;
