-- Alert quality (issue 13), per-patient automatic personalisation: a clinician turns the
-- platform's personalisation at the end of the run-in on or off for one patient (with who, when
-- and why; each change is also in the audit log). A patient without a row follows her profile's
-- auto_personalise (0431). alerts.personalise_due reads the effective setting.
create table patient_personalisation_settings (
    patient_id        bigint primary key references patients on delete cascade,
    auto_personalise  boolean not null,
    changed_by        bigint references users,
    changed_at        timestamptz not null default now(),
    reason            text not null check (length(reason) between 1 and 2000)
);
