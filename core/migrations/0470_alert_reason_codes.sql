-- Alert reasons as a code and its parameters, rendered in the reader's language by the
-- dashboard (issue #14). The English sentence in `reason` stays for the API contract; alerts
-- raised before this migration have no code and are shown with that sentence.
alter table alerts add column reason_code text, add column reason_params jsonb;
