-- The symptom rules (docs/alerting-engine.md, "Symptom rules") in the starting profiles: one major
-- symptom yellow, the Seemungal criterion on 2 consecutive days red, and the combined rule red
-- from its yellow z-score when a major symptom was reported in the last 2 days. Patients
-- enrolled before keep their threshold versions: a clinician turns the rules on for them (a new
-- version with a reason, as for every change).
update profiles set thresholds = thresholds || jsonb_build_object('symptoms', jsonb_build_object(
    'major_yellow', 1, 'seemungal_days_red', 2,
    'z_red_with_major', coalesce(thresholds #> '{combined,z_yellow}', '1.0'::jsonb)));
