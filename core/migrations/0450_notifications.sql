-- Notifications and escalation (docs/notifications.md): who is on duty, the escalation chain and
-- the policies per team; an outbox written by the alert event's own transaction; the chains of
-- alerts being notified and every message sent, one row per (alert, step, recipient, channel).
-- The service role's privileges on these tables come from the owner's default privileges
-- (deploy/postgres/roles.sql), as for every other table.

-- How a person is reached. Absent: only Web Push subscriptions, if any.
create table notification_contacts (
    user_id     bigint primary key references users on delete cascade,
    email       text check (email ~ '^[^@\s]+@[^@\s]+$'),
    phone       text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
    updated_at  timestamptz not null default now()
);

-- The on-call rota: who is the first ('primary') or second ('secondary') on duty, per weekday or
-- on Danish public holidays ('holiday' slots replace the weekday's on a holiday), from a local
-- time (Europe/Copenhagen) to a local time; an end at or before the start runs past midnight.
create table oncall_slots (
    id          bigint generated always as identity primary key,
    team_id     bigint not null references teams on delete cascade,
    user_id     bigint not null references users on delete cascade,
    role        text not null check (role in ('primary', 'secondary')),
    day         text not null check (day in ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun',
                                             'holiday')),
    starts      time not null,
    ends        time not null
);
create index oncall_slots_team on oncall_slots (team_id);

-- The escalation chain: step 1, 2, … reaches the primary or secondary on call, or a named person
-- (team lead, clinician), after_minutes after the alert was raised (non-decreasing).
create table escalation_steps (
    team_id        bigint not null references teams on delete cascade,
    step           integer not null check (step between 1 and 10),
    target         text not null check (target in ('primary', 'secondary', 'user')),
    user_id        bigint references users on delete cascade,
    after_minutes  integer not null check (after_minutes between 0 and 1440),
    primary key (team_id, step),
    check ((target = 'user') = (user_id is not null))
);

-- Per-team policy document (notifications.schemas.TeamPolicy); absent: the defaults.
create table notification_policies (
    team_id     bigint primary key references teams on delete cascade,
    policy      jsonb not null,
    updated_by  bigint references users,
    updated_at  timestamptz not null default now()
);

-- The outbox: one row per alert event that may concern a person, inserted by a trigger in the
-- transaction of the event itself, so that a committed event is never lost to notification and
-- an event rolled back is never notified. The alert domain knows nothing of it.
create table notification_outbox (
    id            bigint generated always as identity primary key,
    event_id      bigint not null unique references alert_events on delete cascade,
    alert_id      bigint not null,
    patient_id    bigint not null,
    event         text not null,
    severity      text not null,
    at            timestamptz not null,
    processed_at  timestamptz
);
create index notification_outbox_pending on notification_outbox (id) where processed_at is null;

create function notification_outbox_insert() returns trigger language plpgsql as $$
begin
    if new.event in ('opened', 'escalated', 'acknowledged', 'resolved')
       and new.severity in ('red', 'yellow', 'blue') then
        insert into notification_outbox (event_id, alert_id, patient_id, event, severity, at)
        values (new.id, new.alert_id, new.patient_id, new.event, new.severity, new.at);
    end if;
    return new;
end $$;

create trigger alert_events_notification_outbox after insert on alert_events
    for each row execute function notification_outbox_insert();

-- One chain per notified alert: the next step and when it is due; stopped by acknowledgement or
-- resolution. A yellow alert outside day hours and a blue alert wait for their digest instead.
create table notification_chains (
    alert_id      bigint primary key references alerts on delete cascade,
    team_id       bigint not null references teams,
    patient_id    bigint not null,
    severity      text not null,
    mode          text not null check (mode in ('escalate', 'once', 'digest')),
    next_step     integer not null default 1,
    next_due_at   timestamptz,
    state         text not null default 'active' check (state in ('active', 'stopped', 'done')),
    stop_reason   text,
    started_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create index notification_chains_due on notification_chains (next_due_at) where state = 'active';

-- Every message: an alert step to one person over one channel, a digest, or a flood summary.
-- The idempotency key makes each (alert, step, recipient, channel) one row whatever runs twice;
-- it also travels with the message (Message-ID, Idempotency-Key, Web Push Topic), so a receiver
-- can drop a copy re-sent after a worker died between the provider's acceptance and our commit.
create table notification_deliveries (
    id               bigint generated always as identity primary key,
    idempotency_key  text not null unique,
    kind             text not null check (kind in ('alert', 'digest', 'summary')),
    alert_id         bigint references alerts on delete cascade,
    team_id          bigint not null references teams,
    patient_id       bigint,
    step             integer,
    user_id          bigint not null references users on delete cascade,
    channel          text not null check (channel in ('email', 'sms', 'push')),
    address          text not null,
    subject          text not null,
    body             text not null,
    status           text not null default 'queued'
                     check (status in ('queued', 'sending', 'sent', 'failed', 'gave_up',
                                       'cancelled', 'collapsed', 'summarised')),
    attempts         integer not null default 0,
    due_at           timestamptz not null default now(),
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz not null default now(),
    sent_at          timestamptz,
    updated_at       timestamptz not null default now()
);
create index notification_deliveries_due on notification_deliveries (due_at)
    where status in ('queued', 'failed', 'sending');
create index notification_deliveries_alert on notification_deliveries (alert_id);
create index notification_deliveries_recent on notification_deliveries (user_id, created_at);

-- Yellow and blue alerts waiting for their digest, and which digest took them.
create table notification_digest_items (
    alert_id     bigint not null references alerts on delete cascade,
    team_id      bigint not null references teams,
    severity     text not null,
    due_at       timestamptz not null,
    digest_key   text,
    primary key (alert_id, due_at)
);
create index notification_digest_items_due on notification_digest_items (due_at)
    where digest_key is null;

-- Web Push subscriptions of the dashboard installed on a nurse's phone (RFC 8030 / 8291).
create table push_subscriptions (
    id          bigint generated always as identity primary key,
    user_id     bigint not null references users on delete cascade,
    endpoint    text not null unique check (endpoint ~ '^https?://'),
    p256dh      text not null,
    auth        text not null,
    created_at  timestamptz not null default now()
);
create index push_subscriptions_user on push_subscriptions (user_id);
