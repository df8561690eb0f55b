package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/pgtest"
)

func TestStart_AcceptsConnections(t *testing.T) {
	c := pgtest.Start(t)
	conn, err := pgx.Connect(context.Background(), c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "select 1+1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("select: %v %d", err, n)
	}
}
