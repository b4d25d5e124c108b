-- Hand-off from ingest to the alert engine. The ingest transaction that commits new readings also
-- records which patients and which measured_at span they cover; the alert evaluation of those
-- readings deletes the row in its own transaction. A row left behind (gateway crashed between the
-- two commits) is evaluated again by the alert recovery task, so no committed reading escapes
-- evaluation.
create table pending_evaluations (
    id                 bigint generated always as identity primary key,
    created_at         timestamptz not null default now(),
    patient_ids        bigint[] not null,
    first_measured_at  timestamptz not null,
    last_measured_at   timestamptz not null,
    received_from      timestamptz not null,
    received_to        timestamptz not null
);

-- Dashboards follow alert changes through LISTEN alert_events (server-sent events); the payload
-- is small, the stream reads the row by id.
create function notify_alert_event() returns trigger language plpgsql as $$
begin
    perform pg_notify('alert_events', json_build_object(
        'id', new.id, 'alert_id', new.alert_id, 'patient_id', new.patient_id,
        'event', new.event, 'severity', new.severity)::text);
    return new;
end $$;

create trigger alert_events_notify after insert on alert_events
    for each row execute function notify_alert_event();
