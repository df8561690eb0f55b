package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgtest"
)

// An external catalog (--catalog-url) keeps customers and databases across
// restarts, no managed catalog cluster is made, and the operator command
// works against it.
func TestServer_ExternalCatalog(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	url := ext.ConnString(pgtest.Superuser)
	s := StartServer(t, "--catalog-url", url)
	if _, err := os.Stat((layout.Layout{DataDir: s.DataDir}).Catalog().Dir); !os.IsNotExist(err) {
		t.Fatalf("managed catalog directory exists with --catalog-url (stat err %v)", err)
	}
	c := s.Anonymous()
	d := c.CreateDB("ext")
	c.MustSQL(d.ID, "create table t (a int); insert into t values (7)")

	out, errOut, code := runDB9(t, "admin", "customer", "create", "--email", "ops@example.com", "--catalog-url", url, "--json")
	if code != 0 {
		t.Fatalf("admin customer create: exit %d: %s", code, errOut)
	}
	var created struct{ Token string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Token == "" {
		t.Fatalf("admin output %q: %v", out, err)
	}
	op := s.Client()
	op.Token = created.Token
	var me struct {
		Email       string `json:"email"`
		IsAnonymous bool   `json:"is_anonymous"`
	}
	op.MustDo("GET", "/customer/me", nil, 200, &me)
	if me.Email != "ops@example.com" || me.IsAnonymous {
		t.Fatalf("me = %+v", me)
	}

	s.Stop()
	s.Start()
	r := c.MustSQL(d.ID, "select a from t")
	if len(r.Rows) != 1 || r.Rows[0][0] != float64(7) {
		t.Fatalf("rows after restart = %v", r.Rows)
	}
	var rows int
	if err := ext.QueryRowInt(t, "select count(*) from databases where id = '"+d.ID+"'", &rows); err != nil || rows != 1 {
		t.Fatalf("catalog row of %s in the external catalog: %d, %v", d.ID, rows, err)
	}
	if strings.Contains(s.Log(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", s.Log())
	}
}
