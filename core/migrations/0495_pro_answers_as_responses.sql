-- The patient-reported outcome's answers are questionnaire responses (questionnaire 'kol-pro-v1',
-- item 'managed_without_hospital') on the device channel's responses topic, stored in
-- questionnaire_responses like the symptom diary's (docs/outcomes.md). Answers already in
-- pro_answers move there first, so the outcomes page keeps counting them.
insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers, device_id,
                                     msg_id, received_at)
select patient_id, 'kol-pro-v1', answered_at, jsonb_build_object(question, answer),
       coalesce(device_id, 'pro_answers'), coalesce(msg_id, 'pro_answers-' || id), received_at
from pro_answers
on conflict do nothing;

drop table pro_answers;

-- The outcomes page counts one questionnaire's responses by month, over every patient.
create index questionnaire_responses_questionnaire_time
    on questionnaire_responses (questionnaire, authored_at);
