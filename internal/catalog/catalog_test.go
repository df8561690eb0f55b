package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platform"
)

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// openManaged opens a managed catalog under dataDir and closes it at cleanup.
func openManaged(t *testing.T, dataDir string) *Catalog {
	t.Helper()
	bin, runAs := pgtest.Env(t)
	c := New(Config{DataDir: dataDir, Bin: bin, RunAs: runAs})
	if err := c.Open(testCtx(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// The tests below share one managed catalog; each works with customers of
// its own.
var (
	sharedOnce sync.Once
	shared     *Catalog
	sharedDir  string
	sharedErr  error
)

func sharedCatalog(t *testing.T) *Catalog {
	t.Helper()
	bin, runAs := pgtest.Env(t)
	sharedOnce.Do(func() {
		base := "/dev/shm"
		if _, err := os.Stat(base); err != nil {
			base = os.TempDir()
		}
		if sharedDir, sharedErr = os.MkdirTemp(base, "db9t-cat-"); sharedErr != nil {
			return
		}
		_ = os.Chmod(sharedDir, 0o755)
		shared = New(Config{DataDir: sharedDir, Bin: bin, RunAs: runAs})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedErr = shared.Open(ctx)
	})
	if sharedErr != nil {
		t.Fatalf("open shared catalog: %v", sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close(context.Background())
	}
	if sharedDir != "" {
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func newCustomer(t *testing.T, c *Catalog) string {
	t.Helper()
	cust := platform.Customer{ID: platform.NewUUID(), IsAnonymous: true}
	tok := auth.NewAPIToken()
	if _, err := c.Accounts.Create(testCtx(t), cust, auth.HashToken("secret"), platform.NewID(12), "default", auth.HashToken(tok), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	return cust.ID
}

func dbRow(customer, name string) DatabaseRow {
	return DatabaseRow{Database: platform.Database{
		ID: platform.NewID(platform.DatabaseIDLen), CustomerID: customer, Name: name,
		State: platform.StateActive, Region: "local",
	}, AdminPasswordEnc: []byte("sealed")}
}

func insert(t *testing.T, c *Catalog, customer, name string, limit int) DatabaseRow {
	t.Helper()
	d, err := c.Databases.Insert(testCtx(t), dbRow(customer, name), limit)
	if err != nil {
		t.Fatalf("InsertDatabase %s/%s: %v", customer, name, err)
	}
	return d
}

type migrationRow struct {
	Version int
	Name    string
	At      time.Time
}

func migrationRows(t *testing.T, c *Catalog) []migrationRow {
	t.Helper()
	rows, err := c.Pool().Query(testCtx(t), `SELECT version, name, applied_at FROM db9_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (migrationRow, error) {
		var m migrationRow
		err := r.Scan(&m.Version, &m.Name, &m.At)
		return m, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCatalog_Open_MigrationsIdempotent(t *testing.T) {
	t.Parallel()
	dir := pgtest.TempDir(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	var want []migrationRow
	for _, m := range ms {
		want = append(want, migrationRow{Version: m.version, Name: m.name})
	}
	ignoreTime := cmp.Comparer(func(a, b time.Time) bool { return true })

	c := openManaged(t, dir)
	first := migrationRows(t, c)
	if diff := cmp.Diff(want, first, ignoreTime); diff != "" {
		t.Fatalf("db9_schema_migrations after first Open (-want +got):\n%s", diff)
	}
	// Concurrent migrators (several servers on one external catalog) apply
	// nothing twice.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- migrate(testCtx(t), c.Pool())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent migrate: %v", err)
		}
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	c2 := openManaged(t, dir)
	second := migrationRows(t, c2)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("db9_schema_migrations changed on reopen (-first +second):\n%s", diff)
	}
	// The schema is usable after the reopen.
	cust := newCustomer(t, c2)
	insert(t, c2, cust, "after-reopen", 0)
}

func TestCatalog_InsertDatabase_NameUnique(t *testing.T) {
	t.Parallel()
	c := sharedCatalog(t)
	for _, limit := range []int{0, 5} { // without and with the quota path
		t.Run(fmt.Sprintf("limit%d", limit), func(t *testing.T) {
			a, b := newCustomer(t, c), newCustomer(t, c)
			first := insert(t, c, a, "app", limit)
			if first.State != platform.StateActive || first.CreatedAt.IsZero() || first.Name != "app" {
				t.Errorf("inserted row = %+v", first)
			}
			if _, err := c.Databases.Insert(testCtx(t), dbRow(a, "app"), limit); !errors.Is(err, ErrNameTaken) {
				t.Fatalf("second app of one customer: %v, want ErrNameTaken", err)
			}
			insert(t, c, b, "app", limit) // another customer may use the name

			if err := c.Databases.BeginDelete(testCtx(t), a, first.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.Databases.FinishDelete(testCtx(t), first.ID); err != nil {
				t.Fatal(err)
			}
			again := insert(t, c, a, "app", limit) // DISABLED frees the name
			got, err := c.Databases.Get(testCtx(t), a, "app")
			if err != nil || got.ID != again.ID {
				t.Errorf("GetDatabase(app) = %s, %v; want the new database %s", got.ID, err, again.ID)
			}
		})
	}
}

func TestCatalog_InsertDatabase_QuotaConcurrent(t *testing.T) {
	t.Parallel()
	c := sharedCatalog(t)
	cust := newCustomer(t, c)
	const limit, callers = 2, 10
	var wg sync.WaitGroup
	errs := make([]error, callers)
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = c.Databases.Insert(testCtx(t), dbRow(cust, fmt.Sprintf("db-%d", i)), limit)
		}()
	}
	close(start)
	wg.Wait()
	ok, quota := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrQuota):
			quota++
		default:
			t.Errorf("InsertDatabase: %v, want success or ErrQuota", err)
		}
	}
	if ok != limit || quota != callers-limit {
		t.Fatalf("%d succeeded and %d hit the quota; want %d and %d", ok, quota, limit, callers-limit)
	}
	live, _, err := c.Databases.CreateChecks(testCtx(t), cust, "x")
	if err != nil || live != limit {
		t.Errorf("CreateChecks live = %d, %v; want %d", live, err, limit)
	}

	// A database being deleted no longer counts.
	dbs, err := c.Databases.List(testCtx(t), cust, true)
	if err != nil || len(dbs) != limit {
		t.Fatalf("ListDatabases = %d rows, %v", len(dbs), err)
	}
	if err := c.Databases.BeginDelete(testCtx(t), cust, dbs[0].ID); err != nil {
		t.Fatal(err)
	}
	insert(t, c, cust, "after-delete", limit)
	if _, err := c.Databases.Insert(testCtx(t), dbRow(cust, "one-too-many"), limit); !errors.Is(err, ErrQuota) {
		t.Errorf("insert over the limit: %v, want ErrQuota", err)
	}
	// Limit 0 means no quota.
	insert(t, c, cust, "unlimited", 0)
}

func TestCatalog_BeginDelete_OneWinner(t *testing.T) {
	t.Parallel()
	c := sharedCatalog(t)
	cust, other := newCustomer(t, c), newCustomer(t, c)
	d := insert(t, c, cust, "doomed", 0)
	if err := c.Databases.BeginDelete(testCtx(t), other, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another customer's BeginDelete: %v, want ErrNotFound", err)
	}
	const callers = 8
	var wg sync.WaitGroup
	errs := make([]error, callers)
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = c.Databases.BeginDelete(testCtx(t), cust, d.ID)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrNotFound):
			t.Errorf("BeginDelete: %v, want nil or ErrNotFound", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent BeginDelete calls won, want exactly 1", won)
	}
	if _, err := c.Databases.Get(testCtx(t), cust, d.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetDatabase of a DISABLING database: %v, want ErrNotFound", err)
	}
	rows, err := c.Databases.InStates(testCtx(t), platform.StateDisabling)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		found = found || r.ID == d.ID
	}
	if !found {
		t.Error("DatabasesInStates(DISABLING) does not list the database")
	}
	if err := c.Databases.FinishDelete(testCtx(t), d.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Databases.BeginDelete(testCtx(t), cust, d.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("BeginDelete of a DISABLED database: %v, want ErrNotFound", err)
	}
}

func TestCatalog_GetDatabase(t *testing.T) {
	t.Parallel()
	c := sharedCatalog(t)
	cust, other := newCustomer(t, c), newCustomer(t, c)
	byID := dbRow(cust, "first")
	byID.ID = platform.NewID(platform.DatabaseIDLen)
	first, err := c.Databases.Insert(testCtx(t), byID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A second database whose name is the first one's id: ids win.
	second := insert(t, c, cust, first.ID, 0)
	otherDB := insert(t, c, other, "theirs", 0)

	tests := []struct {
		name     string
		customer string
		key      string
		wantID   string // "" = not found
	}{
		{"ByID", cust, first.ID, first.ID},
		{"ByName", cust, "first", first.ID},
		{"IDBeatsName", cust, first.ID, first.ID},
		{"SecondByID", cust, second.ID, second.ID},
		{"OtherCustomersByID", cust, otherDB.ID, ""},
		{"OtherCustomersByName", cust, "theirs", ""},
		{"MineFromOtherCustomer", other, first.ID, ""},
		{"MineByNameFromOtherCustomer", other, "first", ""},
		{"Unknown", cust, "nosuchdb", ""},
		{"Empty", cust, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Databases.Get(testCtx(t), tt.customer, tt.key)
			if tt.wantID == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("GetDatabase = %s, %v; want ErrNotFound", got.ID, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.wantID || got.CustomerID != tt.customer {
				t.Errorf("GetDatabase = %s of %s, want %s of %s", got.ID, got.CustomerID, tt.wantID, tt.customer)
			}
		})
	}
	got, err := c.Databases.Get(testCtx(t), cust, "first")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("GetDatabase row differs from the inserted one (-inserted +got):\n%s", diff)
	}
}

// A domain store taken from a Catalog before Open serves once it is open:
// the stores share the Catalog's pool by reference, so a component wired
// with one (observe, scheduler) needs no Catalog at all.
func TestCatalog_StoreTakenBeforeOpen(t *testing.T) {
	t.Parallel()
	sharedCatalog(t) // its cluster runs; this Catalog shares it
	bin, runAs := pgtest.Env(t)
	c := New(Config{DataDir: sharedDir, Bin: bin, RunAs: runAs, UseRunning: true})
	dbs, tokens := c.Databases, c.Tokens
	if err := c.Open(testCtx(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	cust := newCustomer(t, c)
	d := insert(t, c, cust, "taken-before-open", 0)
	got, err := dbs.Get(testCtx(t), cust, d.Name)
	if err != nil || got.ID != d.ID {
		t.Fatalf("Databases.Get through the store taken before Open = %v, %v; want %s", got.ID, err, d.ID)
	}
	list, err := tokens.List(testCtx(t), cust)
	if err != nil || len(list) != 1 {
		t.Fatalf("Tokens.List = %d tokens, %v; want the customer's first token", len(list), err)
	}
}
