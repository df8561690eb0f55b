package e2e

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPooler_DeallocateInSQL: SQL that names a pooled client's
// protocol-level prepared statements (DEALLOCATE name, DEALLOCATE ALL,
// EXECUTE name; in a simple query, an unnamed and a named prepared
// statement) runs on a backend where the statement was never prepared (the
// backend it was prepared on is held by another client's transaction) and
// behaves as on PostgreSQL: DEALLOCATE completes and the statement is gone
// for the client wherever it runs next, EXECUTE runs it, and a name the
// client does not have fails with 26000 even on a backend where another
// client has a statement of that name.
func TestPooler_DeallocateInSQL(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	user, pw := f.creds[0].user, f.creds[0].password
	a := f.s.mustPool(t, user, pw, "disable")

	// prepareOn prepares statements (name, SQL pairs) in a transaction of
	// c and returns the pid of the backend that ran it.
	prepareOn := func(c *pgx.Conn, stmts ...string) uint32 {
		t.Helper()
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var pid uint32
		if err := tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(stmts); i += 2 {
			if _, err := tx.Prepare(ctx, stmts[i], stmts[i+1]); err != nil {
				t.Fatalf("prepare %s: %v", stmts[i], err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	// holdBackend has other clients open transactions until one of them
	// holds backend pid (idle backends are handed out last in, first out:
	// the first one usually does), so a's next transaction runs elsewhere.
	holdBackend := func(pid uint32) (release func()) {
		t.Helper()
		var txs []pgx.Tx
		release = func() {
			for _, tx := range txs {
				_ = tx.Rollback(ctx)
			}
		}
		for range 8 {
			tx, err := f.s.mustPool(t, user, pw, "disable").Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
			var got uint32
			if err := tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got == pid {
				return release
			}
		}
		release()
		t.Fatalf("no other client got backend %d", pid)
		return nil
	}
	wantTag := func(what string, tag pgconn.CommandTag, err error, want string) {
		t.Helper()
		if err != nil || tag.String() != want {
			t.Errorf("%s: tag %q, %v; want %q and no error", what, tag, err, want)
		}
	}
	// gone checks that Bind of name fails as a statement the client does
	// not have (with a parameter: a stale definition would run).
	gone := func(name string) {
		t.Helper()
		_, err := a.PgConn().ExecPrepared(ctx, name, [][]byte{[]byte("1")}, nil, nil).Close()
		wantSQLState(t, "Bind of "+name+" after DEALLOCATE", err, "26000")
	}

	// DEALLOCATE name in a simple query, as pgx's test suite runs it.
	release := holdBackend(prepareOn(a, "ps", "select $1::text"))
	res, err := a.PgConn().Exec(ctx, "deallocate ps").ReadAll()
	if err != nil || len(res) != 1 {
		t.Fatalf("deallocate ps: %v", err)
	}
	wantTag("deallocate ps", res[0].CommandTag, res[0].Err, "DEALLOCATE")
	release()
	gone("ps")
	// pgx's TestDeallocateMissingPreparedStatementStillClearsFromPreparedStatementMap.
	if err := a.Deallocate(ctx, "ps"); err != nil {
		t.Errorf("Deallocate of a deallocated statement: %v", err)
	}
	if _, err := a.Prepare(ctx, "ps", "select $1::text, $2::text"); err != nil {
		t.Fatalf("prepare ps again: %v", err)
	}
	var s1, s2 string
	if err := a.QueryRow(ctx, "ps", "hello", "world").Scan(&s1, &s2); err != nil || s1 != "hello" || s2 != "world" {
		t.Errorf("ps after preparing it again: %q %q, %v", s1, s2, err)
	}

	// In the extended protocol: the unnamed statement...
	release = holdBackend(prepareOn(a, "ps2", "select $1::int"))
	rr := a.PgConn().ExecParams(ctx, "deallocate ps2", nil, nil, nil, nil).Read()
	wantTag("deallocate ps2 (unnamed statement)", rr.CommandTag, rr.Err, "DEALLOCATE")
	release()
	gone("ps2")
	// ...and a named one, bound on a backend that has neither.
	release = holdBackend(prepareOn(a, "ps3", "select $1::int", "d3", "deallocate ps3"))
	tag, err := a.PgConn().ExecPrepared(ctx, "d3", nil, nil, nil).Close()
	wantTag("deallocate ps3 (prepared statement d3)", tag, err, "DEALLOCATE")
	release()
	gone("ps3")

	// EXECUTE of a protocol-level statement.
	release = holdBackend(prepareOn(a, "ps4", "select $1::text"))
	var s string
	if err := a.QueryRow(ctx, "execute ps4('x')", pgx.QueryExecModeSimpleProtocol).Scan(&s); err != nil || s != "x" {
		t.Errorf("execute ps4: %q, %v", s, err)
	}
	release()

	// DEALLOCATE ALL (pgx's DeallocateAll sends it and empties its
	// statement cache, whose statements it drops as well).
	release = holdBackend(prepareOn(a, "x1", "select $1::int", "x2", "select $1::int"))
	res, err = a.PgConn().Exec(ctx, "deallocate all").ReadAll()
	if err != nil || len(res) != 1 {
		t.Fatalf("deallocate all: %v", err)
	}
	wantTag("deallocate all", res[0].CommandTag, res[0].Err, "DEALLOCATE ALL")
	if err := a.DeallocateAll(ctx); err != nil {
		t.Errorf("DeallocateAll after deallocate all: %v", err)
	}
	release()
	gone("x1")
	gone("x2")
	gone("ps4")

	// Another client's statement of a name a does not have: not a's to
	// deallocate or run, on the backend that has it too.
	b := f.s.mustPool(t, user, pw, "disable")
	theirs := prepareOn(b, "theirs", "select $1::int")
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if pid != theirs {
		t.Fatalf("a's transaction runs on backend %d, not %d where b's statement is (idle backends are reused last in, first out)", pid, theirs)
	}
	_, err = tx.Exec(ctx, "deallocate theirs")
	wantSQLState(t, "deallocate of another client's statement", err, "26000")
	_ = tx.Rollback(ctx)
	gone("theirs")
	if _, err := b.PgConn().ExecPrepared(ctx, "theirs", [][]byte{[]byte("7")}, nil, nil).Close(); err != nil {
		t.Errorf("b's statement after a's attempts: %v", err)
	}
}
