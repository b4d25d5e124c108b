-- What a nurse needs to call the patient, and the end of her monitoring (issue #14). Discharge
-- keeps every reading, alert and version: `active` stops the alerts and the schedule.
alter table patients
    add column phone text not null default '' check (length(phone) <= 40),
    add column contact_person text not null default '' check (length(contact_person) <= 200),
    add column contact_phone text not null default '' check (length(contact_phone) <= 40),
    add column gp text not null default '' check (length(gp) <= 200),
    add column notes text not null default '' check (length(notes) <= 4000),
    add column discharged_at timestamptz;
