-- A message the broker delivers again (gateway crashed after its commit, before its ack) must not
-- be dead-lettered twice: each rejection carries a key (device, msg_id and reading index, or a
-- hash of topic and payload for messages without a usable msg_id).
alter table rejections add column dedupe_key text;
create unique index rejections_dedupe on rejections (dedupe_key);
create index rejections_reason on rejections (reason, id desc);
create index rejections_device on rejections (device_id, id desc);
