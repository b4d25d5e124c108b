-- Care events can be withdrawn (a mistake: the wrong patient, the wrong day) and corrected
-- (docs/outcomes.md). Like a consent, a withdrawn event is stamped and kept, never deleted; the
-- outcomes count only standing events. A correction is a new event that names the one it
-- replaces, recorded in the same transaction as that one's withdrawal.
alter table care_events
    add column withdrawn_at      timestamptz,
    add column withdrawn_by      bigint references users,
    add column withdrawal_reason text not null default ''
        check (length(withdrawal_reason) <= 500),
    add column replaces_id       bigint references care_events;
-- Withdrawing needs a reason.
alter table care_events add constraint care_events_withdrawal_has_reason
    check (withdrawn_at is null or length(withdrawal_reason) > 0);
-- An event is replaced at most once (only a standing event can be withdrawn).
create unique index care_events_replaces on care_events (replaces_id)
    where replaces_id is not null;
