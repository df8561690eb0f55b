package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/pgtest"
)

// cronCluster is a cluster with the cron part applied twice (it must be
// idempotent) and the roles of a tenant: admin (BYPASSRLS, like every
// instance's), two login roles and a role that cannot log in.
func cronCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	c := pgtest.Start(t)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	for _, q := range []string{
		`CREATE ROLE admin LOGIN BYPASSRLS NOSUPERUSER NOCREATEROLE`,
		`CREATE ROLE alice LOGIN`, `CREATE ROLE bob LOGIN`, `CREATE ROLE nologin NOLOGIN`,
		`GRANT nologin TO bob`,
		PlatformSQL, PlatformSQL,
	} {
		if _, err := su.Exec(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	return c
}

func connectAs(t *testing.T, c *pgtest.Cluster, role string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.ConnString(role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustInt(t *testing.T, conn *pgx.Conn, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func wantErr(t *testing.T, conn *pgx.Conn, contains, q string, args ...any) {
	t.Helper()
	_, err := conn.Exec(context.Background(), q, args...)
	if err == nil {
		t.Fatalf("%s: no error, want one containing %q", q, contains)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: error %q, want one containing %q", q, err, contains)
	}
}

func TestCronSQL_ScheduleUnscheduleAlter(t *testing.T) {
	c := cronCluster(t)
	alice, bob, admin := connectAs(t, c, "alice"), connectAs(t, c, "bob"), connectAs(t, c, "admin")

	// Upsert by name: the same id, the new schedule and command.
	id := mustInt(t, alice, `SELECT cron.schedule('nightly', '0 3 * * *', 'select 1')`)
	if again := mustInt(t, alice, `SELECT cron.schedule('nightly', '*/5 * * * *', 'select 2')`); again != id {
		t.Fatalf("re-scheduling by name gave job %d, want %d", again, id)
	}
	var sched, cmd, user string
	var active bool
	if err := alice.QueryRow(context.Background(), `SELECT schedule, command, username, active FROM cron.job WHERE jobid = $1`, id).
		Scan(&sched, &cmd, &user, &active); err != nil {
		t.Fatal(err)
	}
	if sched != "*/5 * * * *" || cmd != "select 2" || user != "alice" || !active {
		t.Fatalf("job after upsert = %q %q %q %v", sched, cmd, user, active)
	}
	// The same name for another role is another job.
	if bobs := mustInt(t, bob, `SELECT cron.schedule('nightly', '0 4 * * *', 'select 3')`); bobs == id {
		t.Fatal("bob's job of the same name replaced alice's")
	}
	anon := mustInt(t, alice, `SELECT cron.schedule('@hourly', 'select 4')`)

	// RLS: each role sees its own jobs; admin sees all.
	if n := mustInt(t, alice, `SELECT count(*) FROM cron.job`); n != 2 {
		t.Errorf("alice sees %d jobs, want 2", n)
	}
	if n := mustInt(t, bob, `SELECT count(*) FROM cron.job`); n != 1 {
		t.Errorf("bob sees %d jobs, want 1", n)
	}
	if n := mustInt(t, admin, `SELECT count(*) FROM cron.job`); n != 3 {
		t.Errorf("admin sees %d jobs, want 3", n)
	}

	// Bob can neither alter nor unschedule alice's job, nor take it over.
	wantErr(t, bob, "does not exist or you don't own it", `SELECT cron.alter_job($1, command => 'drop table x')`, id)
	wantErr(t, bob, "could not find valid entry", `SELECT cron.unschedule($1::bigint)`, id)
	wantErr(t, bob, "permission denied to schedule a job as role \"alice\"", `INSERT INTO cron.job (schedule, command, username) VALUES ('* * * * *', 'select 1', 'alice')`)
	wantErr(t, bob, "permission denied", `UPDATE cron.job_run_details SET status = 'x'`)
	wantErr(t, bob, "permission denied", `INSERT INTO cron.job (jobid, schedule, command) VALUES (424242, '* * * * *', 'select 1')`)
	// Admin may switch a job off but not make it run other SQL as alice.
	wantErr(t, admin, "permission denied to schedule a job as role \"alice\"", `SELECT cron.alter_job($1, command => 'select 5')`, id)
	wantErr(t, admin, "permission denied to schedule a job as role \"alice\"", `SELECT cron.alter_job($1, username => 'alice')`,
		mustInt(t, admin, `SELECT cron.schedule('mine', '* * * * *', 'select 6')`))
	if _, err := admin.Exec(context.Background(), `SELECT cron.alter_job($1, active => false)`, anon); err != nil {
		t.Fatal(err)
	}
	// Bob cannot move his job to a role that cannot log in, though he is a member.
	wantErr(t, bob, "cannot log in", `SELECT cron.alter_job(jobid, username => 'nologin') FROM cron.job`)

	// alter_job active, by its owner.
	if _, err := alice.Exec(context.Background(), `SELECT cron.alter_job($1, active => false)`, id); err != nil {
		t.Fatal(err)
	}
	if n := mustInt(t, alice, `SELECT count(*) FROM cron.job WHERE active`); n != 0 {
		t.Errorf("%d of alice's jobs still active after alter_job(active => false)", n)
	}
	if _, err := alice.Exec(context.Background(), `SELECT cron.alter_job($1, schedule => '@daily', active => true)`, id); err != nil {
		t.Fatal(err)
	}
	wantErr(t, alice, "invalid schedule", `SELECT cron.alter_job($1, schedule => '61 * * * *')`, id)
	wantErr(t, alice, "jobs run in database", `SELECT cron.alter_job($1, database => 'other')`, id)

	// Unschedule by name and by id.
	var ok bool
	if err := alice.QueryRow(context.Background(), `SELECT cron.unschedule('nightly')`).Scan(&ok); err != nil || !ok {
		t.Fatalf("unschedule by name: %v %v", ok, err)
	}
	if err := alice.QueryRow(context.Background(), `SELECT cron.unschedule($1::bigint)`, anon).Scan(&ok); err != nil || !ok {
		t.Fatalf("unschedule by id: %v %v", ok, err)
	}
	wantErr(t, alice, "could not find valid entry for job 'nightly'", `SELECT cron.unschedule('nightly')`)
	if n := mustInt(t, admin, `SELECT count(*) FROM cron.job`); n != 2 {
		t.Errorf("admin sees %d jobs after alice unscheduled hers, want 2 (bob's and admin's)", n)
	}
}

func TestCronSQL_Refusals(t *testing.T) {
	c := cronCluster(t)
	bob := connectAs(t, c, "bob")
	wantErr(t, bob, "schedules in seconds are not supported", `SELECT cron.schedule('fast', '30 seconds', 'select 1')`)
	wantErr(t, bob, "@reboot is not supported", `SELECT cron.schedule('boot', '@reboot', 'select 1')`)
	wantErr(t, bob, "job_name can not be NULL", `SELECT cron.schedule(NULL, '* * * * *', 'select 1')`)
	wantErr(t, bob, "command can not be NULL", `SELECT cron.schedule('x', '* * * * *', NULL)`)
	if _, err := bob.Exec(context.Background(), `SET ROLE nologin`); err != nil {
		t.Fatal(err)
	}
	wantErr(t, bob, "cannot log in", `SELECT cron.schedule('as-nologin', '* * * * *', 'select 1')`)
}

// TestSchedule_SQLAgrees holds the SQL validator and ParseSchedule to the
// same grammar.
func TestSchedule_SQLAgrees(t *testing.T) {
	c := cronCluster(t)
	conn := connectAs(t, c, "bob")
	for _, sc := range scheduleCases {
		_, err := conn.Exec(context.Background(), `SELECT cron.validate_schedule($1)`, sc.spec)
		var pe *pgconn.PgError
		if err != nil && (!errors.As(err, &pe) || pe.Code != "22023") {
			t.Errorf("validate_schedule(%q): unexpected error %v", sc.spec, err)
			continue
		}
		if (err == nil) != sc.ok {
			t.Errorf("validate_schedule(%q) error = %v, want ok=%v (as ParseSchedule)", sc.spec, err, sc.ok)
		}
	}
}
