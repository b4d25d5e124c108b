-- Open dashboards follow a patient's conversation through LISTEN patient_messages (the live
-- stream's `event: messages`), as they follow alerts: a message of hers stored by ingest, a reply,
-- and a read receipt either way each notify, in the writing transaction, so at its commit. The
-- payload names only the patient (never the text): a page that shows her thread reads it anew.
-- PostgreSQL folds equal notifications of one transaction, so a batch says it once per patient.
create function notify_patient_messages() returns trigger language plpgsql as $$
begin
    perform pg_notify('patient_messages', json_build_object('patient_id', new.patient_id)::text);
    return new;
end $$;

create trigger patient_messages_notify after insert or update on patient_messages
    for each row execute function notify_patient_messages();
