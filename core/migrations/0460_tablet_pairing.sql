-- Pairing a tablet without passwords (docs/tablet.md): a nurse starts pairing for a patient and
-- gets a short one-time code; the tablet redeems it once for its device credentials.
-- Only a hash of the code is stored, so a database reader cannot redeem an open code.
create table pairing_codes (
    id           bigint generated always as identity primary key,
    code_hash    text not null unique,
    patient_id   bigint not null references patients,
    created_by   bigint not null references users,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    used_at      timestamptz,
    -- The device the code was redeemed for (kept for the audit trail).
    device_id    text references devices,
    check (expires_at > created_at)
);
create index pairing_codes_patient on pairing_codes (patient_id, created_at desc);
