package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDefaults_MatchAPI checks the defaults documented in API.md
// "Operating the server".
func TestDefaults_MatchAPI(t *testing.T) {
	d := Defaults()
	got := struct {
		DataDir, HTTPAddr, PGAddr, Region string
		IdleTimeout                       time.Duration
		AnonymousDBLimit                  int
		PublicHost, CatalogURL            string
	}{d.DataDir, d.HTTPAddr, d.PGAddr, d.Region, d.IdleTimeout, d.AnonymousDBLimit, d.PublicHost, d.CatalogURL}
	want := got
	want.DataDir, want.HTTPAddr, want.PGAddr, want.Region = "./db9-data", "127.0.0.1:8080", "127.0.0.1:5433", "local"
	want.IdleTimeout, want.AnonymousDBLimit = 5*time.Minute, 5
	want.PublicHost, want.CatalogURL = "", "" // derived from --pg-addr; managed catalog
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Defaults (-want +got):\n%s", diff)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Defaults do not validate: %v", err)
	}
	if d.PublicHost != "127.0.0.1" {
		t.Errorf("PublicHost from default --pg-addr = %q, want 127.0.0.1", d.PublicHost)
	}
	if d.FS9Addr != "127.0.0.1:5480" || d.FS9Port() != 5480 {
		t.Errorf("FS9Addr = %q (port %d), want 127.0.0.1:5480 (FS9.md)", d.FS9Addr, d.FS9Port())
	}
	if d.PGPort() != 5433 {
		t.Errorf("PGPort = %d, want 5433", d.PGPort())
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServer_FromEnv_Overrides(t *testing.T) {
	env := map[string]string{
		"DB9_DATA_DIR":            "/srv/db9",
		"DB9_HTTP_ADDR":           "0.0.0.0:9000",
		"DB9_PG_ADDR":             "0.0.0.0:6543",
		"DB9_FS9_ADDR":            "0.0.0.0:7480",
		"DB9_PUBLIC_HOST":         "db.example.com",
		"DB9_IDLE_TIMEOUT":        "90s",
		"DB9_REGION":              "eu-1",
		"DB9_CATALOG_URL":         "postgres://cat@h/db",
		"DB9_ANONYMOUS_DB_LIMIT":  "7",
		"DB9_WARM_POOL":           "2",
		"DB9_WARM_POOL_MAX":       "9",
		"DB9_SPARE_POOL":          "3",
		"DB9_LOG_LEVEL":           "debug",
		"DB9_TLS_CERT":            "/etc/db9/pg.crt",
		"DB9_TLS_KEY":             "/etc/db9/pg.key",
		"DB9_PG_MAX_CONNS":        "12",
		"DB9_PG_POOL_ADDR":        "0.0.0.0:7543",
		"DB9_PITR_RETENTION":      "3d",
		"DB9_BRANCH_STAGE_WAL_MB": "64",
		"DB9_ALLOW_PRIVATE_JWKS":  "true",
	}
	got, err := Defaults().FromEnv(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{
		DataDir: "/srv/db9", HTTPAddr: "0.0.0.0:9000", PGAddr: "0.0.0.0:6543", FS9Addr: "0.0.0.0:7480", PublicHost: "db.example.com",
		IdleTimeout: 90 * time.Second, Region: "eu-1", CatalogURL: "postgres://cat@h/db",
		AnonymousDBLimit: 7, WarmPool: 2, WarmPoolMax: 9, SparePool: 3, LogLevel: "debug",
		TLSCert: "/etc/db9/pg.crt", TLSKey: "/etc/db9/pg.key", PGMaxConns: 12, PGPoolAddr: "0.0.0.0:7543", PGPoolIdleTimeout: time.Minute, PITRRetention: 72 * time.Hour,
		BranchStageWALMB: 64, AllowPrivateJWKS: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromEnv (-want +got):\n%s", diff)
	}
}

// TestServer_FromEnv_Each sets one variable at a time, so a variable that
// writes into the wrong field is caught too.
func TestServer_FromEnv_Each(t *testing.T) {
	tests := []struct {
		name  string
		value string
		apply func(*Server)
	}{
		{"DB9_DATA_DIR", "/d", func(s *Server) { s.DataDir = "/d" }},
		{"DB9_HTTP_ADDR", ":1", func(s *Server) { s.HTTPAddr = ":1" }},
		{"DB9_PG_ADDR", ":2", func(s *Server) { s.PGAddr = ":2" }},
		{"DB9_FS9_ADDR", ":3", func(s *Server) { s.FS9Addr = ":3" }},
		{"DB9_PG_POOL_ADDR", ":4", func(s *Server) { s.PGPoolAddr = ":4" }},
		{"DB9_PG_POOL_IDLE_TIMEOUT", "5s", func(s *Server) { s.PGPoolIdleTimeout = 5 * time.Second }},
		{"DB9_PUBLIC_HOST", "h", func(s *Server) { s.PublicHost = "h" }},
		{"DB9_IDLE_TIMEOUT", "0", func(s *Server) { s.IdleTimeout = 0 }},
		{"DB9_IDLE_TIMEOUT", "1h30m", func(s *Server) { s.IdleTimeout = 90 * time.Minute }},
		{"DB9_REGION", "r", func(s *Server) { s.Region = "r" }},
		{"DB9_CATALOG_URL", "u", func(s *Server) { s.CatalogURL = "u" }},
		{"DB9_ANONYMOUS_DB_LIMIT", "0", func(s *Server) { s.AnonymousDBLimit = 0 }},
		{"DB9_WARM_POOL", "0", func(s *Server) { s.WarmPool = 0 }},
		{"DB9_SPARE_POOL", "9", func(s *Server) { s.SparePool = 9 }},
		{"DB9_LOG_LEVEL", "warn", func(s *Server) { s.LogLevel = "warn" }},
		{"DB9_PITR_RETENTION", "36h", func(s *Server) { s.PITRRetention = 36 * time.Hour }},
		{"DB9_PITR_RETENTION", "1d", func(s *Server) { s.PITRRetention = 24 * time.Hour }},
		{"DB9_BRANCH_STAGE_WAL_MB", "0", func(s *Server) { s.BranchStageWALMB = 0 }},
		{"DB9_ALLOW_PRIVATE_JWKS", "1", func(s *Server) { s.AllowPrivateJWKS = true }},
		{"DB9_ALLOW_PRIVATE_JWKS", "false", func(s *Server) { s.AllowPrivateJWKS = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			got, err := Defaults().FromEnv(envOf(map[string]string{tt.name: tt.value}))
			if err != nil {
				t.Fatal(err)
			}
			want := Defaults()
			tt.apply(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("FromEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServer_FromEnv_EmptyKeepsDefaults(t *testing.T) {
	got, err := Defaults().FromEnv(envOf(map[string]string{"DB9_DATA_DIR": "", "DB9_IDLE_TIMEOUT": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Defaults(), got); diff != "" {
		t.Errorf("FromEnv with empty values (-want +got):\n%s", diff)
	}
}

func TestServer_FromEnv_Invalid(t *testing.T) {
	tests := []struct{ name, value string }{
		{"DB9_IDLE_TIMEOUT", "5"},
		{"DB9_PITR_RETENTION", "a week"},
		{"DB9_PITR_RETENTION", "-1d"},
		{"DB9_IDLE_TIMEOUT", "soon"},
		{"DB9_IDLE_TIMEOUT", "5 m"},
		{"DB9_ANONYMOUS_DB_LIMIT", "five"},
		{"DB9_ANONYMOUS_DB_LIMIT", "1.5"},
		{"DB9_WARM_POOL", "x"},
		{"DB9_SPARE_POOL", "10k"},
		{"DB9_ALLOW_PRIVATE_JWKS", "yes please"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Defaults().FromEnv(envOf(map[string]string{tt.name: tt.value}))
			if err == nil {
				t.Fatalf("FromEnv accepted %s=%q", tt.name, tt.value)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0", 0, false},
		{"0s", 0, false},
		{"5m", 5 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"-1s", -time.Second, false}, // parses; Validate rejects it
		{"", 0, true},
		{"10", 0, true},
		{"00", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestServer_Validate_PublicHost(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		pgAddr, publicHost, want string
	}{
		{"127.0.0.1:5433", "", "127.0.0.1"},
		{"db.internal:5433", "", "db.internal"},
		{"[::1]:5433", "", "::1"},
		{"127.0.0.1:5433", "public.example", "public.example"},
		{"0.0.0.0:5433", "", host},
		{":5433", "", host},
		{"[::]:5433", "", host},
	}
	for _, tt := range tests {
		t.Run(tt.pgAddr+"/"+tt.publicHost, func(t *testing.T) {
			c := Defaults()
			c.PGAddr, c.PublicHost = tt.pgAddr, tt.publicHost
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.PublicHost != tt.want {
				t.Errorf("PublicHost = %q, want %q", c.PublicHost, tt.want)
			}
		})
	}
}

func TestServer_Validate_DataDirAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "db9-data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	c.DataDir = "/srv/../srv/db9/"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/srv/db9" {
		t.Errorf("DataDir = %q, want /srv/db9", c.DataDir)
	}
}

func TestServer_Validate_Rejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Server)
		want   string // substring of the error
	}{
		{"EmptyDataDir", func(c *Server) { c.DataDir = "" }, "--data-dir"},
		{"HTTPAddrNoPort", func(c *Server) { c.HTTPAddr = "127.0.0.1" }, "--http-addr"},
		{"HTTPAddrEmpty", func(c *Server) { c.HTTPAddr = "" }, "--http-addr"},
		{"PGAddrNoPort", func(c *Server) { c.PGAddr = "localhost" }, "--pg-addr"},
		{"FS9AddrNoPort", func(c *Server) { c.FS9Addr = "localhost" }, "--fs9-addr"},
		{"FS9AddrNamedPort", func(c *Server) { c.FS9Addr = "localhost:fs" }, "--fs9-addr"},
		{"PGAddrNamedPort", func(c *Server) { c.PGAddr = "localhost:postgres" }, "--pg-addr"},
		{"PGAddrPortTooLarge", func(c *Server) { c.PGAddr = "127.0.0.1:65536" }, "--pg-addr"},
		{"PGAddrPortNegative", func(c *Server) { c.PGAddr = "127.0.0.1:-1" }, "--pg-addr"},
		{"PGAddrTooManyColons", func(c *Server) { c.PGAddr = "::1:5433" }, "--pg-addr"},
		{"NegativeIdle", func(c *Server) { c.IdleTimeout = -time.Second }, "--idle-timeout"},
		{"NegativeAnonLimit", func(c *Server) { c.AnonymousDBLimit = -1 }, "--anonymous-db-limit"},
		{"NegativeWarm", func(c *Server) { c.WarmPool = -1 }, "--warm-pool"},
		{"HugeWarm", func(c *Server) { c.WarmPool = 65 }, "--warm-pool"},
		{"NegativeSpare", func(c *Server) { c.SparePool = -1 }, "--spare-pool"},
		{"HugeSpare", func(c *Server) { c.SparePool = 1001 }, "--spare-pool"},
		{"EmptyRegion", func(c *Server) { c.Region = "" }, "--region"},
		{"NegativeStageWAL", func(c *Server) { c.BranchStageWALMB = -1 }, "--branch-stage-wal-mb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted the configuration")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %s", err, tt.want)
			}
		})
	}
}

func TestServer_Validate_ZeroesAccepted(t *testing.T) {
	c, err := Defaults().FromEnv(envOf(map[string]string{
		"DB9_IDLE_TIMEOUT": "0", "DB9_ANONYMOUS_DB_LIMIT": "0", "DB9_WARM_POOL": "0", "DB9_SPARE_POOL": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.IdleTimeout != 0 {
		t.Errorf("IdleTimeout = %v, want 0 (never stop)", c.IdleTimeout)
	}
}
