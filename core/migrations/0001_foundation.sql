-- Foundation schema. All timestamps are timestamptz (UTC in storage).
create extension if not exists timescaledb;

create table teams (
    id          bigint generated always as identity primary key,
    name        text not null unique check (length(name) between 1 and 100),
    created_at  timestamptz not null default now()
);

create table users (
    id             bigint generated always as identity primary key,
    username       text not null unique check (username ~ '^[A-Za-z0-9._@-]{3,64}$'),
    display_name   text not null default '',
    password_hash  text not null,
    role           text not null check (role in ('nurse', 'clinician', 'admin')),
    active         boolean not null default true,
    created_at     timestamptz not null default now()
);

create table user_teams (
    user_id  bigint not null references users on delete cascade,
    team_id  bigint not null references teams on delete cascade,
    primary key (user_id, team_id)
);
create index user_teams_team on user_teams (team_id);

-- A profile is the template of thresholds for a patient group; a patient gets a copy on
-- enrolment (threshold_versions version 1) that clinicians then individualise.
create table profiles (
    name        text primary key check (name ~ '^[a-z0-9-]{2,40}$'),
    description text not null,
    thresholds  jsonb not null,
    updated_at  timestamptz not null default now()
);

create table patients (
    id            bigint generated always as identity primary key,
    display_name  text not null check (length(display_name) between 1 and 200),
    team_id       bigint not null references teams,
    profile       text not null references profiles (name),
    -- {"days": ["mon", "thu"], "deadline": "12:00", "types": ["spo2", "pulse", "weight"]},
    -- local time in Europe/Copenhagen.
    schedule      jsonb not null,
    active        boolean not null default true,
    created_at    timestamptz not null default now()
);
create index patients_team on patients (team_id);

-- Holidays, hospital stays: no missing-measurement alerts inside these intervals.
create table patient_pauses (
    id          bigint generated always as identity primary key,
    patient_id  bigint not null references patients on delete cascade,
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    reason      text not null,
    created_by  bigint references users,
    created_at  timestamptz not null default now(),
    check (ends_at > starts_at)
);
create index patient_pauses_patient on patient_pauses (patient_id, starts_at);

create table devices (
    device_id       text primary key check (device_id ~ '^[A-Za-z0-9_-]{3,64}$'),
    patient_id      bigint not null references patients,
    password_hash   text not null,
    active          boolean not null default true,
    created_at      timestamptz not null default now(),
    deactivated_at  timestamptz,
    -- Last retained status payload ({"state", "battery", "app"}) and when it arrived.
    status          jsonb,
    status_at       timestamptz
);
create index devices_patient on devices (patient_id);

create table threshold_versions (
    patient_id  bigint not null references patients on delete cascade,
    version     integer not null check (version >= 1),
    thresholds  jsonb not null,
    changed_by  bigint references users,
    changed_at  timestamptz not null default now(),
    reason      text not null check (length(reason) between 1 and 2000),
    primary key (patient_id, version)
);

-- Readings: one row per (patient, type, measured_at). Chunks of 7 days: queries are per patient
-- over 1 to 180 days, so a 90-day graph touches ~13 chunks, while even 10^6 readings a day keep
-- a chunk's indexes (~7 M rows) well inside memory; late replays land in the few newest chunks.
create table readings (
    patient_id   bigint not null,
    type         text not null,
    measured_at  timestamptz not null,
    value        double precision not null,
    device_id    text not null,
    msg_id       text not null,
    received_at  timestamptz not null default now(),
    late         boolean not null default false,
    primary key (patient_id, type, measured_at)
);
select create_hypertable('readings', by_range('measured_at', interval '7 days'));

-- One row per accepted batch: re-sent batches (same device and msg_id) are stored once and answered
-- with the receipt they were first given.
create table ingested_messages (
    device_id    text not null,
    msg_id       text not null,
    received_at  timestamptz not null default now(),
    receipt      jsonb not null,
    primary key (device_id, msg_id)
);

-- Dead letters: rejected input, whole messages (reading_index null) or single readings, kept with
-- the reason and the raw bytes.
create table rejections (
    id             bigint generated always as identity primary key,
    received_at    timestamptz not null default now(),
    topic          text not null,
    device_id      text,
    msg_id         text,
    reading_index  integer,
    reason         text not null,
    detail         text,
    payload        bytea not null
);
create index rejections_received on rejections (received_at desc);

create table alerts (
    id                 bigint generated always as identity primary key,
    patient_id         bigint not null references patients,
    rule               text not null,
    type               text not null,
    severity           text not null check (severity in ('red', 'yellow', 'blue', 'green')),
    status             text not null default 'open'
                       check (status in ('open', 'acknowledged', 'resolved')),
    opened_at          timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    first_measured_at  timestamptz,
    last_measured_at   timestamptz,
    value              double precision,
    late               boolean not null default false,
    reason             text not null,
    breach_count       integer not null default 1,
    threshold_version  integer,
    acknowledged_by    bigint references users,
    acknowledged_at    timestamptz,
    acknowledge_note   text,
    resolved_by        bigint references users,
    resolved_at        timestamptz,
    resolve_note       text
);
-- At most one unresolved alert per (patient, rule, type): new breaches update it.
create unique index alerts_one_unresolved on alerts (patient_id, rule, type)
    where status <> 'resolved';
create index alerts_patient on alerts (patient_id, opened_at desc);
create index alerts_status on alerts (status, severity, opened_at);

-- The readings that raised or updated an alert (copied, so its reason survives any later change).
create table alert_readings (
    alert_id     bigint not null references alerts on delete cascade,
    type         text not null,
    measured_at  timestamptz not null,
    value        double precision not null,
    primary key (alert_id, type, measured_at)
);

-- Every lifecycle step; its id orders the server-sent event stream (Last-Event-ID).
create table alert_events (
    id          bigint generated always as identity primary key,
    alert_id    bigint not null references alerts on delete cascade,
    patient_id  bigint not null,
    event       text not null check (event in ('opened', 'updated', 'escalated', 'acknowledged',
                                               'resolved')),
    severity    text not null,
    actor_id    bigint references users,
    note        text,
    at          timestamptz not null default now()
);
create index alert_events_alert on alert_events (alert_id);

create table audit_log (
    id           bigint generated always as identity primary key,
    at           timestamptz not null default now(),
    actor_id     bigint references users,
    actor        text not null,
    action       text not null,
    entity_type  text not null,
    entity_id    text not null,
    detail       jsonb not null default '{}'::jsonb
);
create index audit_log_entity on audit_log (entity_type, entity_id, at desc);

-- Starting profiles from docs (alerting.md): defaults a clinician is expected to adjust.
insert into profiles (name, description, thresholds) values
('kol-standard', 'KOL standard: SpO2 red < 88, yellow < 90', '{
  "spo2":   {"absolute": {"red_low": 88, "yellow_low": 90, "yellow_high": null, "red_high": null},
             "baseline": {"drop_red": 5, "drop_yellow": 3}},
  "pulse":  {"absolute": {"red_low": 40, "yellow_low": 50, "yellow_high": 100, "red_high": 120},
             "baseline": {"rise_red": 20, "rise_yellow": 10}},
  "weight": {"trend": {"change_3d_yellow": 2.0, "loss_30d_pct_yellow": 5.0}},
  "combined": {"z_yellow": 1.0}
}'),
('kol-ltot', 'KOL on long-term oxygen (CO2 retainers, BTS target 88-92 %): SpO2 red < 84, yellow < 86', '{
  "spo2":   {"absolute": {"red_low": 84, "yellow_low": 86, "yellow_high": null, "red_high": null},
             "baseline": {"drop_red": 4, "drop_yellow": 3}},
  "pulse":  {"absolute": {"red_low": 40, "yellow_low": 50, "yellow_high": 100, "red_high": 120},
             "baseline": {"rise_red": 20, "rise_yellow": 10}},
  "weight": {"trend": {"change_3d_yellow": 2.0, "loss_30d_pct_yellow": 5.0}},
  "combined": {"z_yellow": 1.0}
}');
