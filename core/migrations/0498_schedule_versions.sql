-- Every schedule a patient has had, with when it was in force (docs/outcomes.md): the adherence
-- figure counts each deadline under the schedule in force then, so a schedule change no longer
-- rewrites past adherence. Until now past schedules were only in the audit log.
create table schedule_versions (
    id          bigint generated always as identity primary key,
    patient_id  bigint not null references patients on delete cascade,
    schedule    jsonb not null,
    valid_from  timestamptz not null,
    valid_to    timestamptz
);
create index schedule_versions_patient on schedule_versions (patient_id, valid_from);
-- One schedule in force now.
create unique index schedule_versions_current on schedule_versions (patient_id)
    where valid_to is null;

-- From the audit log: the first change's old schedule from enrolment to that change, each
-- change's new one until the next; the last one in force now is the patient's schedule itself
-- (should the log miss a change, the present is still right). Never changed: her schedule from
-- enrolment.
with changes as (
    select a.entity_id::bigint as patient_id, a.at, a.detail -> 'old' as old,
           a.detail -> 'new' as new,
           row_number() over w as n, lead(a.at) over w as next_at
    from audit_log a
    where a.entity_type = 'patient' and a.action = 'patient.schedule'
      and a.entity_id in (select id::text from patients)
    window w as (partition by a.entity_id order by a.at, a.id)
)
insert into schedule_versions (patient_id, schedule, valid_from, valid_to)
select c.patient_id, c.old, p.created_at, c.at
    from changes c join patients p on p.id = c.patient_id where c.n = 1
union all
select c.patient_id, case when c.next_at is null then p.schedule else c.new end, c.at, c.next_at
    from changes c join patients p on p.id = c.patient_id
union all
select p.id, p.schedule, p.created_at, null from patients p
    where not exists (select from changes c where c.patient_id = p.id);

-- Filled on every schedule change, whoever writes it (the API, the simulators' history, the
-- tests' own rows), in the writing transaction: a new patient's schedule from her enrolment, a
-- change from the time of its transaction.
create function record_schedule_version() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into schedule_versions (patient_id, schedule, valid_from)
            values (new.id, new.schedule, new.created_at);
    elsif new.schedule is distinct from old.schedule then
        update schedule_versions set valid_to = now()
            where patient_id = new.id and valid_to is null;
        insert into schedule_versions (patient_id, schedule, valid_from)
            values (new.id, new.schedule, now());
    end if;
    return new;
end $$;

create trigger patients_schedule_version after insert or update of schedule on patients
    for each row execute function record_schedule_version();
