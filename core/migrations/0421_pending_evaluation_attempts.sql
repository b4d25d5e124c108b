-- Recovery of left-over hand-offs counts its attempts: a row whose evaluation fails waits
-- (exponential backoff) instead of being taken first again at every run, and after
-- KOL_ALERT_RECOVERY_MAX_ATTEMPTS failures it is parked for an operator (listed by the API,
-- counted in /metrics), so that later rows proceed.
alter table pending_evaluations
    add column attempts         integer not null default 0,
    add column next_attempt_at  timestamptz,
    add column last_error       text,
    add column parked_at        timestamptz;
create index pending_evaluations_due on pending_evaluations (id) where parked_at is null;
create index pending_evaluations_parked on pending_evaluations (parked_at) where parked_at is not null;
