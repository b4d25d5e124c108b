-- One-time password-reset codes an admin hands to a user (issue #14): stored as their SHA-256,
-- valid for a day, used once. A new user gets one instead of a password chosen by the admin.
create table password_resets (
    id          bigint generated always as identity primary key,
    user_id     bigint not null references users on delete cascade,
    code_hash   bytea not null unique,
    created_by  bigint references users,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz
);
create index password_resets_user on password_resets (user_id);
