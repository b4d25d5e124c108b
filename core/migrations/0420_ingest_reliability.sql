-- Dead-letter payloads are stored once per message, not once per rejected reading (a 64 KiB
-- message with 500 bad readings cost ~32 MB), and cut at a configured size; the SHA-256 and the
-- size are of the whole payload. received_at is the last time the payload was dead-lettered.
create table dead_letter_payloads (
    id             bigint generated always as identity primary key,
    sha256         bytea not null unique,
    payload        bytea not null,
    payload_bytes  integer not null,
    received_at    timestamptz not null default now()
);
create index dead_letter_payloads_received on dead_letter_payloads (received_at);

insert into dead_letter_payloads (sha256, payload, payload_bytes, received_at)
select sha256(payload), payload, length(payload), max(received_at) from rejections
group by payload;

alter table rejections add column payload_id bigint
    references dead_letter_payloads on delete cascade;
update rejections r set payload_id = p.id
from dead_letter_payloads p where p.sha256 = sha256(r.payload);
alter table rejections alter column payload_id set not null;
alter table rejections drop column payload;
create index rejections_payload on rejections (payload_id);

-- Per device and clock hour: dead letters (rejected readings or whole messages) stored, their
-- payload bytes, and the rejected messages not stored because the device was over its budget
-- (still receipted, and counted here).
create table dead_letter_budget (
    device_key  text not null,
    hour        timestamptz not null,
    letters     integer not null default 0,
    bytes       bigint not null default 0,
    suppressed  integer not null default 0,
    primary key (device_key, hour)
);

-- A re-used msg_id with other content is a conflict, not a re-send: the batch's content digest
-- (SHA-256 of its readings) is kept with its receipt. Null for batches ingested before.
alter table ingested_messages add column content_digest bytea;

-- When the platform last heard from the device (a reading batch or a live status), so that a
-- device whose last status said "online" but that has gone silent is shown offline.
alter table devices add column last_seen_at timestamptz;
update devices set last_seen_at = status_at;
