-- Dashboard sessions (issue #14): a rotating refresh token per login, kept in an HttpOnly cookie,
-- stored here only as its SHA-256. Access tokens name their session (claim `sid`), so logging
-- out or deactivating the user ends them at once.
create table user_sessions (
    id              bigint generated always as identity primary key,
    user_id         bigint not null references users,
    refresh_hash    bytea not null unique,
    previous_hash   bytea,
    rotated_at      timestamptz,
    created_at      timestamptz not null default now(),
    last_active_at  timestamptz not null default now(),
    expires_at      timestamptz not null,
    revoked_at      timestamptz,
    revoked_reason  text
);
create index user_sessions_previous on user_sessions (previous_hash);
create index user_sessions_user_open on user_sessions (user_id) where revoked_at is null;

-- The team's idle timeout for its members' dashboard sessions (null: the platform's default).
alter table teams add column idle_timeout_minutes integer
    check (idle_timeout_minutes between 1 and 1440);
