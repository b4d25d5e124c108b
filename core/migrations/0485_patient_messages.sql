-- Messages between a patient and her team (issue #17). A patient's message (or her "ring mig op",
-- call me back) arrives over the device protocol's `messages` addition and is stored once per
-- (device, msg_id) by ingest; a team's reply is written through the API. Every message is kept:
-- the services may read, add and mark read, never change the text or delete.
create table patient_messages (
    id          bigint generated always as identity primary key,
    patient_id  bigint not null references patients,
    direction   text not null check (direction in ('patient', 'team')),
    body        text not null check (length(body) <= 1000),
    callback    boolean not null default false,
    written_at  timestamptz not null,
    received_at timestamptz not null default now(),
    -- The patient's messages: the device and its msg_id (stored once per pair).
    device_id   text,
    msg_id      text,
    -- The team's replies: who wrote it, and to which message of hers.
    author_id   bigint references users,
    author      text,
    reply_to    bigint references patient_messages,
    -- Read by the other side: a nurse reading the patient's message, the patient reading a reply.
    read_at     timestamptz,
    read_by     text,
    check ((direction = 'patient') = (device_id is not null and msg_id is not null)),
    check (direction = 'patient' or author is not null),
    check (direction = 'team' or body <> '' or callback),
    unique (device_id, msg_id)
);
create index patient_messages_thread on patient_messages (patient_id, id);
-- The triage list counts each patient's unread messages with a probe of this index.
create index patient_messages_unread on patient_messages (patient_id)
    where direction = 'patient' and read_at is null;

do $$
begin
    if exists (select from pg_roles where rolname = 'kol') then
        revoke update, delete, truncate on patient_messages from kol;
        grant update (read_at, read_by) on patient_messages to kol;
    end if;
end $$;
