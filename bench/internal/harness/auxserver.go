package harness

import (
	"context"
	"net/url"
	"regexp"
	"time"

	"github.com/db9/db9/internal/config"
)

// TPSRE finds pgbench's transactions per second in its output.
var TPSRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// FrontDoorURL is the URL of database id through srv's PostgreSQL front door.
func FrontDoorURL(srv *Server, id, password, sslmode string) string {
	return (&url.URL{Scheme: "postgresql", User: url.UserPassword(id+".admin", password), Host: srv.PGAddr(), Path: "/postgres",
		RawQuery: "sslmode=" + sslmode}).String()
}

// AuxDB is the database of an auxiliary server.
type AuxDB struct {
	ID            string `json:"id"`
	AdminPassword string `json:"admin_password"`
	// API is a client of the auxiliary server, as the database's owner.
	API *APIClient `json:"-"`
}

// AuxServer starts a second server in dir (no warm or spare instances, so
// it does no background work during the measurements) with one database.
func AuxServer(ctx context.Context, dir string, idle time.Duration, set func(*config.Server)) (*Server, AuxDB, func(), error) {
	var sets []func(*config.Server)
	if set != nil {
		sets = append(sets, set)
	}
	var db AuxDB
	srv, err := StartServer(ctx, dir, 0, 0, idle, sets...)
	if err != nil {
		return nil, db, nil, err
	}
	closeSrv := func() { srv.Close(ctx) }
	if db.API, err = NewAPIClient(srv.HTTPAddr()); err == nil {
		err = db.API.Do("POST", "/customer/databases", map[string]any{"name": "bench"}, 201, &db)
	}
	if err != nil {
		closeSrv()
		return nil, db, nil, err
	}
	return srv, db, closeSrv, nil
}
