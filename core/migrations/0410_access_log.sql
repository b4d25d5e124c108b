-- Who read which patient's data, when, what and from where (issue #11). Append-only for the
-- services: they insert and read, never change or delete; only the retention function (owned by
-- the schema's owner, with a floor of a year) removes old entries.
create table access_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    user_id     bigint references users,
    username    text not null,
    patient_id  bigint not null references patients,
    what        text not null,
    detail      jsonb not null default '{}'::jsonb,
    address     text not null
);
create index access_log_patient on access_log (patient_id, id desc);
create index access_log_user on access_log (user_id, id desc);

-- The services' role (deploy/postgres/roles.sql) got every DML right through the default
-- privileges; take back all but select and the insert of an entry stamped by the database (it
-- may not choose the time or the id).
do $$
begin
    if exists (select from pg_roles where rolname = 'kol') then
        revoke insert, update, delete, truncate on access_log from kol;
        grant insert (user_id, username, patient_id, what, detail, address) on access_log to kol;
    end if;
end $$;

create function purge_access_log(older_than interval) returns bigint
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    removed bigint;
begin
    if older_than < interval '365 days' then
        raise exception 'the access log is kept at least 365 days, not %', older_than;
    end if;
    delete from access_log where at < now() - older_than;
    get diagnostics removed = row_count;
    return removed;
end $$;
revoke all on function purge_access_log(interval) from public;
do $$
begin
    if exists (select from pg_roles where rolname = 'kol') then
        grant execute on function purge_access_log(interval) to kol;
    end if;
end $$;
