package scheduler

// PlatformSQL is the `cron` schema inside every database (a platformsql
// part, run by the platform superuser): pg_cron 1.6's tables and
// functions with the same names, columns and signatures, so that agents'
// cron.schedule calls work unchanged, minus the background worker: the
// server's scheduler runs the jobs.
//
// Differences from pg_cron, on purpose:
//   - cron.alter_job and cron.schedule_in_database are granted to every
//     role (pg_cron leaves them to the superuser), because the guard below
//     makes them safe: a job runs as cron.job.username, and only a member
//     of that role may set or change a job's username or command.
//   - The job's role must be able to log in (the scheduler connects as it;
//     a session that only SET ROLE'd could RESET ROLE out of it) and may
//     not be a superuser.
//   - Schedules in seconds ('30 seconds') and @reboot are refused with a
//     clear error; `$` (last day of month) is not supported.
//   - database must be this database: there is one per instance.
//
// Rows are tenants' own: RLS shows each role its own jobs and runs, admin
// (BYPASSRLS, the tenant's owner) sees them all, as pg_cron's superuser
// does. The functions are SECURITY INVOKER: they work through the column
// grants and the guard trigger, like any client could.
const PlatformSQL = `
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'cron'
             AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) THEN
    RAISE EXCEPTION 'schema cron is reserved for the platform' USING ERRCODE = '42501';
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS cron;
REVOKE ALL ON SCHEMA cron FROM PUBLIC;
GRANT USAGE ON SCHEMA cron TO PUBLIC;
CREATE SEQUENCE IF NOT EXISTS cron.jobid_seq;
CREATE SEQUENCE IF NOT EXISTS cron.runid_seq;

CREATE TABLE IF NOT EXISTS cron.job (
  jobid bigint PRIMARY KEY DEFAULT pg_catalog.nextval('cron.jobid_seq'),
  schedule text NOT NULL,
  command text NOT NULL,
  nodename text NOT NULL DEFAULT 'localhost',
  nodeport integer NOT NULL DEFAULT 5432,
  database text NOT NULL DEFAULT pg_catalog.current_database(),
  username text NOT NULL DEFAULT CURRENT_USER,
  active boolean NOT NULL DEFAULT true,
  jobname text,
  CONSTRAINT jobname_username_uniq UNIQUE (jobname, username)
);
CREATE TABLE IF NOT EXISTS cron.job_run_details (
  jobid bigint,
  runid bigint PRIMARY KEY DEFAULT pg_catalog.nextval('cron.runid_seq'),
  job_pid integer,
  database text,
  username text,
  command text,
  status text,
  return_message text,
  start_time timestamptz,
  end_time timestamptz
);
CREATE INDEX IF NOT EXISTS job_run_details_jobid_idx ON cron.job_run_details (jobid, runid);

ALTER TABLE cron.job ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS cron_job_policy ON cron.job;
CREATE POLICY cron_job_policy ON cron.job USING (username OPERATOR(pg_catalog.=) CURRENT_USER);
ALTER TABLE cron.job_run_details ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS cron_job_run_details_policy ON cron.job_run_details;
CREATE POLICY cron_job_run_details_policy ON cron.job_run_details USING (username OPERATOR(pg_catalog.=) CURRENT_USER);

REVOKE ALL ON cron.job, cron.job_run_details, cron.jobid_seq, cron.runid_seq FROM PUBLIC;
GRANT SELECT, DELETE ON cron.job TO PUBLIC;
GRANT INSERT (schedule, command, database, username, active, jobname) ON cron.job TO PUBLIC;
GRANT UPDATE (schedule, command, database, username, active, jobname) ON cron.job TO PUBLIC;
GRANT USAGE, SELECT ON SEQUENCE cron.jobid_seq TO PUBLIC;
GRANT SELECT, DELETE ON cron.job_run_details TO PUBLIC;
GRANT SELECT ON SEQUENCE cron.runid_seq TO PUBLIC;

-- The schedule grammar of scheduler.ParseSchedule (keep them in step).
CREATE OR REPLACE FUNCTION cron.schedule_field_value(field int, v text) RETURNS int
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  fname text[] := ARRAY['minute', 'hour', 'day of month', 'month', 'day of week'];
  fmin int[] := ARRAY[0, 0, 1, 1, 0];
  fmax int[] := ARRAY[59, 23, 31, 12, 7];
  months text[] := ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'];
  days text[] := ARRAY['sun','mon','tue','wed','thu','fri','sat'];
  i int;
BEGIN
  IF field = 4 THEN
    i := array_position(months, v);
    IF i IS NOT NULL THEN RETURN i; END IF;
  ELSIF field = 5 THEN
    i := array_position(days, v);
    IF i IS NOT NULL THEN RETURN i - 1; END IF;
  END IF;
  IF v !~ '^[0-9]+$' THEN
    RAISE EXCEPTION '%: "%" is not a number', fname[field], v USING ERRCODE = '22023';
  END IF;
  IF v::numeric < fmin[field] OR v::numeric > fmax[field] THEN
    RAISE EXCEPTION '%: % is out of range %-%', fname[field], v, fmin[field], fmax[field] USING ERRCODE = '22023';
  END IF;
  RETURN v::int;
END $f$;

CREATE OR REPLACE FUNCTION cron.validate_schedule(schedule text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  spec text := lower(btrim($1, E' \t\r\n'));
  parts text[];
  item text; rng text; step text;
  lo int; hi int; i int; p int;
BEGIN
  IF spec IS NULL THEN
    RAISE EXCEPTION 'schedule can not be NULL' USING ERRCODE = '22004';
  END IF;
  BEGIN
    IF left(spec, 1) = '@' THEN
      IF spec = '@reboot' THEN
        RAISE EXCEPTION '@reboot is not supported (databases stop when idle; schedule a time instead)' USING ERRCODE = '22023';
      END IF;
      spec := CASE spec WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
        WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0' WHEN '@daily' THEN '0 0 * * *'
        WHEN '@midnight' THEN '0 0 * * *' WHEN '@hourly' THEN '0 * * * *' END;
      IF spec IS NULL THEN
        RAISE EXCEPTION 'unknown macro (use @yearly, @monthly, @weekly, @daily or @hourly)' USING ERRCODE = '22023';
      END IF;
    END IF;
    parts := regexp_split_to_array(spec, '\s+');
    IF spec = '' THEN parts := '{}'; END IF;
    IF cardinality(parts) = 2 AND parts[2] IN ('seconds', 'second') THEN
      RAISE EXCEPTION 'schedules in seconds are not supported (jobs fire at most once a minute); use five fields such as ''* * * * *''' USING ERRCODE = '22023';
    END IF;
    IF cardinality(parts) <> 5 THEN
      RAISE EXCEPTION 'want five fields (minute hour day-of-month month day-of-week), got %', cardinality(parts) USING ERRCODE = '22023';
    END IF;
    FOR i IN 1..5 LOOP
      FOREACH item IN ARRAY string_to_array(parts[i], ',') LOOP
        p := position('/' in item);
        rng := item;
        IF p > 0 THEN
          rng := left(item, p - 1);
          step := substr(item, p + 1);
          IF step !~ '^[0-9]+$' OR step::numeric < 1 THEN
            RAISE EXCEPTION 'step "%" is not a positive number', step USING ERRCODE = '22023';
          END IF;
        END IF;
        CONTINUE WHEN rng = '*';
        p := position('-' in rng);
        IF p > 0 THEN
          lo := cron.schedule_field_value(i, left(rng, p - 1));
          hi := cron.schedule_field_value(i, substr(rng, p + 1));
          IF lo > hi THEN
            RAISE EXCEPTION 'range "%" runs backwards', rng USING ERRCODE = '22023';
          END IF;
        ELSE
          PERFORM cron.schedule_field_value(i, rng);
        END IF;
      END LOOP;
    END LOOP;
  EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION 'invalid schedule: % (%)', $1, SQLERRM USING ERRCODE = '22023';
  END;
  RETURN true;
END $f$;

-- The guard: what the functions do is what a client may do directly, and
-- no more. Trigger functions run as the role that changes the row.
CREATE OR REPLACE FUNCTION cron.job_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
DECLARE r record;
BEGIN
  IF NEW.command IS NULL THEN
    RAISE EXCEPTION 'command can not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM cron.validate_schedule(NEW.schedule);
  IF NEW.database IS DISTINCT FROM current_database() THEN
    RAISE EXCEPTION 'jobs run in database "%", not "%"', current_database(), NEW.database USING ERRCODE = '22023';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.jobid := OLD.jobid;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.username IS DISTINCT FROM OLD.username OR NEW.command IS DISTINCT FROM OLD.command THEN
    SELECT rolsuper, rolcanlogin INTO r FROM pg_catalog.pg_roles WHERE rolname = NEW.username;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'role "%" does not exist', NEW.username USING ERRCODE = '42704';
    END IF;
    IF r.rolsuper THEN
      RAISE EXCEPTION 'cron jobs cannot run as a superuser' USING ERRCODE = '42501';
    END IF;
    IF NOT pg_has_role(current_user, NEW.username, 'MEMBER') THEN
      RAISE EXCEPTION 'permission denied to schedule a job as role "%"', NEW.username USING ERRCODE = '42501',
        HINT = 'a job runs as its username: only that role (or a member of it) may set its command';
    END IF;
    IF NOT r.rolcanlogin THEN
      RAISE EXCEPTION 'role "%" cannot log in', NEW.username USING ERRCODE = '42501',
        HINT = 'cron jobs run as the role that scheduled them, which must be able to log in';
    END IF;
  END IF;
  RETURN NEW;
END $f$;
CREATE OR REPLACE TRIGGER job_guard BEFORE INSERT OR UPDATE ON cron.job
  FOR EACH ROW EXECUTE FUNCTION cron.job_guard();

CREATE OR REPLACE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
DECLARE id bigint;
BEGIN
  IF $1 IS NULL THEN
    RAISE EXCEPTION 'job_name can not be NULL' USING ERRCODE = '22004';
  END IF;
  INSERT INTO cron.job AS j (jobname, schedule, command) VALUES ($1, $2, $3)
  ON CONFLICT ON CONSTRAINT jobname_username_uniq
  DO UPDATE SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, active = true
  RETURNING j.jobid INTO id;
  RETURN id;
END $f$;
COMMENT ON FUNCTION cron.schedule(text, text, text) IS 'schedule a pg_cron job';

CREATE OR REPLACE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp AS $f$
  INSERT INTO cron.job AS j (schedule, command) VALUES ($1, $2) RETURNING j.jobid
$f$;
COMMENT ON FUNCTION cron.schedule(text, text) IS 'schedule a pg_cron job';

CREATE OR REPLACE FUNCTION cron.schedule_in_database(job_name text, schedule text, command text, database text,
    username text DEFAULT NULL, active boolean DEFAULT true) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
DECLARE id bigint;
BEGIN
  IF $1 IS NULL THEN
    RAISE EXCEPTION 'job_name can not be NULL' USING ERRCODE = '22004';
  END IF;
  INSERT INTO cron.job AS j (jobname, schedule, command, database, username, active)
  VALUES ($1, $2, $3, $4, coalesce($5, CURRENT_USER), coalesce($6, true))
  ON CONFLICT ON CONSTRAINT jobname_username_uniq
  DO UPDATE SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, database = EXCLUDED.database, active = EXCLUDED.active
  RETURNING j.jobid INTO id;
  RETURN id;
END $f$;
COMMENT ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) IS 'schedule a pg_cron job';

CREATE OR REPLACE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  DELETE FROM cron.job WHERE jobid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find valid entry for job %', $1 USING ERRCODE = 'P0002';
  END IF;
  RETURN true;
END $f$;
COMMENT ON FUNCTION cron.unschedule(bigint) IS 'unschedule a pg_cron job';

CREATE OR REPLACE FUNCTION cron.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  DELETE FROM cron.job WHERE jobname = $1 AND username = CURRENT_USER;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find valid entry for job ''%''', $1 USING ERRCODE = 'P0002';
  END IF;
  RETURN true;
END $f$;
COMMENT ON FUNCTION cron.unschedule(text) IS 'unschedule a pg_cron job';

CREATE OR REPLACE FUNCTION cron.alter_job(job_id bigint, schedule text DEFAULT NULL, command text DEFAULT NULL,
    database text DEFAULT NULL, username text DEFAULT NULL, active boolean DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  UPDATE cron.job j SET schedule = coalesce($2, j.schedule), command = coalesce($3, j.command),
    database = coalesce($4, j.database), username = coalesce($5, j.username), active = coalesce($6, j.active)
  WHERE j.jobid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Job % does not exist or you don''t own it', $1 USING ERRCODE = 'P0002';
  END IF;
END $f$;
COMMENT ON FUNCTION cron.alter_job(bigint, text, text, text, text, boolean)
  IS 'Alter the job identified by job_id. Any option left as NULL will not be modified.';
`
