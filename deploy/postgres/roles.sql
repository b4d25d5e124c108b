-- The database roles of the platform, run as the cluster's superuser by deploy/stack.sh (and by
-- the compose database's first start); idempotent. Passwords come from the environment through
-- \getenv so that they never appear on a command line.
--
--   kol_owner  owns the database and its tables; runs the migrations (kol-admin migrate)
--   kol        the services' role: data manipulation on the tables, nothing else (no DDL)
\set ON_ERROR_STOP on
set client_min_messages = warning;
\getenv owner_password KOL_PG_OWNER_PASSWORD
\getenv service_password KOL_PG_PASSWORD

select format('create role kol_owner login createdb password %L', :'owner_password')
 where not exists (select from pg_roles where rolname = 'kol_owner') \gexec
select format('create role kol login password %L', :'service_password')
 where not exists (select from pg_roles where rolname = 'kol') \gexec
-- Rotating a password is editing the secrets and running stack.sh up again.
alter role kol_owner with login nosuperuser createdb nocreaterole noreplication nobypassrls
    password :'owner_password';
alter role kol with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls
    password :'service_password';
-- The owner may end the services' sessions (drop database … with (force) in the tests).
grant kol to kol_owner;

-- Every database is made from template1: TimescaleDB (which only a superuser can create) and the
-- service role's grants on whatever the owner creates later come with it.
\connect template1
set client_min_messages = warning;
create extension if not exists timescaledb;
revoke create on schema public from public;
alter default privileges for role kol_owner in schema public
    grant select, insert, update, delete on tables to kol;
alter default privileges for role kol_owner in schema public
    grant usage, select on sequences to kol;

select 'create database kol owner kol_owner'
 where not exists (select from pg_database where datname = 'kol') \gexec
