-- Alerts raised before 0470 have only the English sentence in `reason`. Their code and parameters
-- are derived here from that sentence, which every version of alerts/reasons.py wrote in the same
-- shapes (the `rule` column says which shape to expect), so the dashboard renders them in the
-- reader's language like any other. What cannot be read back (a sentence of another shape, an
-- alert inserted by hand) gets the generic code `legacy`, rendered from the alert's own columns
-- (type, rule, severity, value); `reason` itself stays as it is (the API contract's sentence).

-- Helpers of this migration only (dropped at its end). A number as Python's format wrote it;
-- 'nan'/'inf' (a rule without a reference) is null, as reasons.describe stores it.
create function migration_0474_number(t text) returns double precision
    language sql immutable as $$
    select case when t is null or lower(t) ~ '^[-+]?(nan|inf)$' then null
                else t::double precision end
$$;

create function migration_0474_unit(type text) returns text language sql immutable as $$
    select case type when 'spo2' then '%' when 'pulse' then '/min' when 'weight' then 'kg'
                else '' end
$$;

-- The shapes of the English sentences (alerts/reasons.py), one capture per parameter (numbers as
-- Python's formats write them, so the casts cannot fail); the `rule` column says which shape to
-- expect.
with shapes (rule, pattern) as (values
    ('absolute', '^(?:SpO2|Pulse|Weight) ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) (?:%|/min|kg) (below|above) the (red|yellow) limit ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))$'),
    ('baseline', '^(?:SpO2|Pulse|Weight) ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) (?:%|/min|kg) against the 14-day baseline ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))'
                 ' \((red|yellow) at ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))\)$'),
    ('change_3d', '^(?:SpO2|Pulse|Weight) changed ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) (?:%|/min|kg) against the last 3 days'
                  ' \(([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))\)$'),
    ('loss_30d', '^(?:SpO2|Pulse|Weight) fell ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) % in 30 days \(from ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) (?:%|/min|kg)\)$'),
    ('slope_3d', '^(?:SpO2|Pulse|Weight) trend ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) (?:%|/min|kg) over 3 days'
                 ' \((red|yellow) at ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))\)$'),
    ('combined', '^SpO2 fall and pulse rise average ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf)) SD of the patient''s own variability'
                 ' \((red|yellow) at ([-+]?(?:[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?|nan|inf))\)$'),
    ('missing', '^No (?:SpO2|Pulse|Weight) measurement by the deadline .+ \(([A-Za-z_/+-]+)\)$')
), parsed as (
    select a.id, a.rule, a.type, a.severity, a.last_measured_at,
           regexp_match(a.reason, s.pattern) as m
    from alerts a join shapes s on s.rule = a.rule
    where a.reason_code is null
)
update alerts a set
    reason_code = case p.rule when 'absolute' then 'absolute_' || p.m[2] else p.rule end,
    reason_params = case p.rule
        when 'missing' then jsonb_build_object(
            -- The sentence has the deadline without its year; the alert's last_measured_at is
            -- that deadline (alerts/missing.py), in UTC as describe_missing stores it.
            'type', p.type, 'timezone', p.m[1],
            'deadline', to_char(p.last_measured_at at time zone 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))
        else jsonb_build_object('type', p.type, 'unit', migration_0474_unit(p.type)) || (
            case p.rule
                when 'absolute' then jsonb_build_object(
                    'metric', migration_0474_number(p.m[1]), 'severity', p.m[3],
                    'limit', migration_0474_number(p.m[4]), 'reference', null)
                when 'baseline' then jsonb_build_object(
                    'metric', migration_0474_number(p.m[1]),
                    'reference', migration_0474_number(p.m[2]), 'severity', p.m[3],
                    'limit', migration_0474_number(p.m[4]))
                when 'change_3d' then jsonb_build_object(
                    'metric', migration_0474_number(p.m[1]),
                    'reference', migration_0474_number(p.m[2]), 'severity', p.severity,
                    'limit', null)
                when 'loss_30d' then jsonb_build_object(
                    'metric', migration_0474_number(p.m[1]),
                    'reference', migration_0474_number(p.m[2]), 'severity', p.severity,
                    'limit', null)
                when 'slope_3d' then jsonb_build_object(
                    'metric', migration_0474_number(p.m[1]), 'severity', p.m[2],
                    'limit', migration_0474_number(p.m[3]), 'reference', null)
                else jsonb_build_object(  -- combined
                    'metric', migration_0474_number(p.m[1]), 'severity', p.m[2],
                    'limit', migration_0474_number(p.m[3]), 'reference', null)
            end)
    end
from parsed p
where a.id = p.id and p.m is not null
    and (p.rule <> 'missing' or p.last_measured_at is not null);

-- Everything else: the generic code, from what the alert itself records.
update alerts set
    reason_code = 'legacy',
    reason_params = jsonb_build_object('type', type, 'rule', rule, 'severity', severity,
                                       'metric', value, 'unit', migration_0474_unit(type))
where reason_code is null;

drop function migration_0474_number(text);
drop function migration_0474_unit(text);
