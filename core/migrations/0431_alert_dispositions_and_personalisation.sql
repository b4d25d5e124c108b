-- Alert quality (issue 13), part 2.
-- Dispositions: what the nurse did about an alert, from a fixed set, given when acknowledging or
-- resolving (optional; the latest one given stands). The share of alerts that led to an action
-- is the positive predictive value as the nurses judged it (reports/alert-outcomes).
alter table alerts add column disposition text check (disposition in (
    'no_action_needed', 'advice_by_phone', 'home_visit', 'gp_contacted', 'admitted',
    'measurement_error'));
alter table alert_events add column disposition text;
create index alerts_opened_at on alerts (opened_at);

-- Personal limits: a profile may have its patients' limits personalised by the platform at the
-- end of the run-in (alerts.personal); each patient is personalised once, recorded here whether
-- or not anything changed, so the periodic task never reconsiders her.
alter table profiles add column auto_personalise boolean not null default false;
alter table profiles add column run_in_days integer not null default 21
    check (run_in_days between 7 and 90);
create table personalisations (
    patient_id  bigint primary key references patients on delete cascade,
    ran_at      timestamptz not null default now(),
    version     integer,
    outcome     text not null check (outcome in ('applied', 'nothing_to_change',
                                                 'too_few_readings'))
);
