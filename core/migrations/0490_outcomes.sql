-- Outcomes (issue #19): consent, care events, patient-reported outcomes and a read-only manager.
-- The service role's privileges on the new tables come from the owner's default privileges
-- (deploy/postgres/roles.sql).

-- A manager reads aggregates only (core.access: she sees no patient).
alter table users drop constraint users_role_check;
alter table users add constraint users_role_check
    check (role in ('nurse', 'clinician', 'admin', 'manager'));

-- Acute admissions in the 12 months before enrolment, where known (null: not known): the
-- period before enrolment that the outcomes compare with.
alter table patients add column admissions_before integer
    check (admissions_before between 0 and 100);

-- The citizen's consents, one row per scope given; a withdrawal stamps the row and keeps it.
-- Scopes: telemonitoring itself, sharing data with her own GP, with the hospital.
create table consents (
    id              bigint generated always as identity primary key,
    patient_id      bigint not null references patients,
    scope           text not null check (scope in ('telemonitoring', 'share_gp',
                                                   'share_hospital')),
    given_on        date not null,
    recorded_by     bigint references users,
    recorded_at     timestamptz not null default now(),
    note            text not null default '' check (length(note) <= 500),
    withdrawn_on    date,
    withdrawn_by    bigint references users,
    withdrawn_at    timestamptz,
    withdrawal_note text not null default '' check (length(withdrawal_note) <= 500)
);
-- At most one standing consent per scope.
create unique index consents_one_standing on consents (patient_id, scope)
    where withdrawn_at is null;

-- Hospital contacts the nurses record: acute admissions and their discharges, emergency
-- department and outpatient visits. An admission opens a pause of the monitoring that its
-- discharge ends.
create table care_events (
    id            bigint generated always as identity primary key,
    patient_id    bigint not null references patients,
    kind          text not null check (kind in ('admission', 'discharge', 'emergency',
                                                'outpatient')),
    occurred_at   timestamptz not null,
    hospital      text not null default '' check (length(hospital) <= 200),
    reason        text not null check (reason in ('copd_exacerbation', 'pneumonia',
                                                  'heart', 'other_respiratory', 'other',
                                                  'planned_control')),
    note          text not null default '' check (length(note) <= 2000),
    alert_id      bigint references alerts,
    pause_id      bigint references patient_pauses on delete set null,
    admission_id  bigint references care_events,
    recorded_by   bigint references users,
    recorded_at   timestamptz not null default now()
);
create index care_events_patient on care_events (patient_id, occurred_at desc);
create index care_events_kind_time on care_events (kind, occurred_at);

-- Answers to the periodic patient-reported-outcome question(s), one row per answer.
create table pro_answers (
    id           bigint generated always as identity primary key,
    patient_id   bigint not null references patients,
    question     text not null check (question ~ '^[a-z0-9_]{2,60}$'),
    answer       boolean not null,
    answered_at  timestamptz not null,
    device_id    text,
    msg_id       text,
    received_at  timestamptz not null default now(),
    unique (patient_id, question, answered_at)
);
create index pro_answers_time on pro_answers (answered_at);
