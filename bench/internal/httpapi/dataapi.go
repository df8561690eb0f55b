package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
)

// DataAPI: GET /data/<db>/rest/v1/t?id=eq.N with a publishable key
// (role anon under an RLS policy) against POST /sql of the same query and
// direct pgx, with 1 and -clients concurrent clients; then shows from
// pg_stat_statements that an embedded read (post + author + 10 comments)
// is one statement in PostgreSQL.
func DataAPI(args []string) error {
	fs := flag.NewFlagSet("dataapi", flag.ExitOnError)
	e := harness.Flags(fs)
	n := fs.Int("n", 2000, "sequential requests per side for the latency measurement")
	dur := fs.Duration("duration", 5*time.Second, "duration of each throughput run")
	clients := fs.Int("clients", 16, "concurrent clients for the throughput run")
	rounds := fs.Int("rounds", 3, "throughput runs per side, taking turns")
	fs.Parse(args)
	srv, api, id, closeServer, err := harness.ServerWithDB(e, "dataapi")
	if err != nil {
		return err
	}
	defer closeServer()
	ctx := context.Background()
	const schema = `create table t (id int primary key, v text not null, public bool not null default true);
		insert into t select g, 'value ' || g from generate_series(1, 1000) g;
		alter table t enable row level security;
		create policy anon_read on t for select to anon using (public);
		grant select on t to anon;
		create table authors (id int primary key, name text);
		create table posts (id int primary key, author_id int references authors, title text);
		create table comments (id int primary key, post_id int references posts, body text);
		insert into authors values (1, 'ada');
		insert into posts values (1, 1, 'hello');
		insert into comments select g, 1, 'comment ' || g from generate_series(1, 10) g;
		grant select on authors, posts, comments to anon`
	var res struct{ Error any }
	if err := api.Do("POST", "/customer/databases/"+id+"/sql", map[string]any{"query": schema}, 200, &res); err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("schema: %v", res.Error)
	}
	su, err := pgx.Connect(ctx, srv.DirectConn(id, "_db9_super"))
	if err != nil {
		return err
	}
	defer su.Close(ctx)
	var key struct{ Key string }
	if err := api.Do("POST", "/customer/databases/"+id+"/publishable-keys", map[string]any{}, 201, &key); err != nil {
		return err
	}
	// Measure on a server whose instance pools are full again after the
	// create, not while it copies and starts spares in the background.
	harness.WaitPools(srv, api, e.WarmPool, e.SparePool)
	addr := srv.HTTPAddr()
	dataReq := func(path string) []byte {
		return []byte(fmt.Sprintf("GET /data/%s/rest/v1%s HTTP/1.1\r\nHost: %s\r\napikey: %s\r\n\r\n", id, path, addr, key.Key))
	}
	sqlBody := []byte(`{"query":"select id, v from t where id = 42"}`)
	sqlReq := []byte(fmt.Sprintf("POST /customer/databases/%s/sql HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		id, addr, api.Token, len(sqlBody), sqlBody))
	dial := func(req []byte) (*rawHTTP, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		return &rawHTTP{conn: c, r: bufio.NewReaderSize(c, 64<<10), req: req}, nil
	}
	type side struct {
		name string
		open func() (func() error, func(), error)
	}
	httpSide := func(name string, req []byte, want string) side {
		return side{name, func() (func() error, func(), error) {
			h, err := dial(req)
			if err != nil {
				return nil, nil, err
			}
			return func() error {
				b, err := h.do()
				if err == nil && !bytes.Contains(b, []byte(want)) {
					err = fmt.Errorf("%s: unexpected answer %s", name, b)
				}
				return err
			}, h.close, nil
		}}
	}
	sides := []side{
		httpSide("data API GET /rest/v1/t?id=eq.42 (anon, RLS)", dataReq("/t?select=id,v&id=eq.42"), `"value 42"`),
		httpSide("POST /sql select id, v from t where id = 42", sqlReq, `"value 42"`),
		{"direct pgx (admin)", func() (func() error, func(), error) {
			c, err := pgx.Connect(ctx, srv.DirectConn(id, "admin"))
			if err != nil {
				return nil, nil, err
			}
			return func() error {
				var v string
				return c.QueryRow(ctx, "select v from t where id = $1", 42).Scan(&v)
			}, func() { c.Close(ctx) }, nil
		}},
	}
	fmt.Println(harness.TableHead)
	for _, s := range sides {
		do, done, err := s.open()
		if err != nil {
			return err
		}
		var lat []time.Duration
		for i := 0; i < 200+*n; i++ {
			t0 := time.Now()
			if err := do(); err != nil {
				done()
				return err
			}
			if i >= 200 {
				lat = append(lat, time.Since(t0))
			}
		}
		done()
		fmt.Println(harness.Summarize(lat).Row(s.name + ", 1 client"))
	}
	// Throughput: the sides take turns, in reverse order every other
	// round, so that neither always runs first after the database was made
	// (when the server is still refilling its instance pools) and the
	// machine's other load falls on both alike. Each round's ratio is of
	// runs next to each other; the table reports each side's median.
	// CPU per request is the steadier figure on a shared machine: the Go
	// process (server and clients; direct pgx has no server part) and the
	// instance's PostgreSQL processes, over each run.
	type run struct{ rps, goCPU, pgCPU float64 }
	rate := func(s side) (run, error) {
		pm := srv.Postmaster(id)
		go0, pg0 := harness.SelfCPU(), harness.PostmasterCPU(pm)
		all, took, err := harness.Clients(*clients, *dur, s.open)
		n := float64(max(1, len(all)))
		return run{rps: float64(len(all)) / took.Seconds(),
			goCPU: float64((harness.SelfCPU() - go0).Microseconds()) / n,
			pgCPU: float64((harness.PostmasterCPU(pm) - pg0).Microseconds()) / n}, err
	}
	rates := make([][]float64, len(sides))
	goCPU := make([][]float64, len(sides))
	pgCPU := make([][]float64, len(sides))
	var ratios []string
	for r := 0; r < max(1, *rounds); r++ {
		order := []int{0, 1, 2}
		if r%2 == 1 {
			order = []int{2, 1, 0}
		}
		got := make([]float64, len(sides))
		for _, i := range order {
			v, err := rate(sides[i])
			if err != nil {
				return err
			}
			got[i] = v.rps
			rates[i] = append(rates[i], v.rps)
			goCPU[i] = append(goCPU[i], v.goCPU)
			pgCPU[i] = append(pgCPU[i], v.pgCPU)
		}
		ratios = append(ratios, fmt.Sprintf("%.2f", got[0]/got[1]))
	}
	fmt.Printf("\n| throughput, %d clients (median of %d rounds) | requests/s | CPU µs/request: Go process | CPU µs/request: PostgreSQL |\n|---|---|---|---|\n", *clients, max(1, *rounds))
	for i, s := range sides {
		fmt.Printf("| %s | %.0f | %.0f | %.0f |\n", s.name, median(rates[i]), median(goCPU[i]), median(pgCPU[i]))
	}
	fmt.Printf("\ndata API / POST /sql by round: %s (median %.2f)\n", strings.Join(ratios, " "), median(rates[0])/median(rates[1]))

	// One embedded read, then what PostgreSQL ran for it.
	if _, err := su.Exec(ctx, "select extensions.pg_stat_statements_reset()"); err != nil {
		return err
	}
	embed, err := dial(dataReq("/posts?select=title,authors(name),comments(body)&id=eq.1"))
	if err != nil {
		return err
	}
	defer embed.close()
	if _, err := embed.do(); err != nil {
		return err
	}
	rows, err := su.Query(ctx, `select calls, left(regexp_replace(query, '\s+', ' ', 'g'), 110) from extensions.pg_stat_statements
		where query like '%comments%' and query not like '%pg_stat_statements%' and query not like '%insert%' and query not like '%create%' order by calls desc`)
	if err != nil {
		return err
	}
	fmt.Printf("\npg_stat_statements after one embedded read (post + author + 10 comments):\n\n| calls | statement |\n|---|---|\n")
	for rows.Next() {
		var calls int64
		var q string
		if err := rows.Scan(&calls, &q); err != nil {
			return err
		}
		fmt.Printf("| %d | `%s…` |\n", calls, q)
	}
	return rows.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
