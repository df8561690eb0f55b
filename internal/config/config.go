package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Server is the configuration of `db9 server`.
type Server struct {
	DataDir  string
	HTTPAddr string
	PGAddr   string
	// FS9Addr is the fs9 WebSocket listener (FS9.md); empty: none, the
	// protocol is then only at /fs9 on the HTTP server.
	FS9Addr          string
	PublicHost       string
	IdleTimeout      time.Duration
	Region           string
	CatalogURL       string
	AnonymousDBLimit int
	WarmPool         int
	WarmPoolMax      int
	SparePool        int
	LogLevel         string
	// OIDC issuer for POST /customer/claim; claim answers 501 without it.
	OIDCIssuer   string
	OIDCAudience string
	OIDCJWKSURL  string // default: jwks_uri of the issuer's discovery document
	// TLSCert and TLSKey are the PostgreSQL front door's certificate and
	// key files; empty: a self-signed pair generated under secrets/.
	TLSCert string
	TLSKey  string
	// PGMaxConns bounds the front door's sessions per database, the
	// pooled endpoint's backends included; instances are started with
	// max_connections to match (PGMaxConns + InstancePlatformConns).
	PGMaxConns int
	// PGPoolAddr is the pooled PostgreSQL endpoint (transaction pooling,
	// docs/POOLER.md); empty: none.
	PGPoolAddr string
	// PGPoolIdleTimeout closes a pooled backend unused for this long.
	PGPoolIdleTimeout time.Duration
	// PITRRetention is how far back branches may reach (snapshot_at);
	// archived history older than that is pruned.
	PITRRetention time.Duration
	// BranchStageWALMB is the WAL (MB) a branch stages ahead of its
	// replay. 0: none, segments are fetched one by one.
	BranchStageWALMB int
	// PGRelayLoops is pgproxy.Config.RelayLoops: 0 the default number of
	// relay event loops, negative none (every session relays with two
	// goroutines). Not a flag: the benchmark that compares the two relays
	// sets it.
	PGRelayLoops int
	// AllowPrivateJWKS lets auth-configs name a jwks_url on a loopback or
	// private address (self-hosted identity providers).
	AllowPrivateJWKS bool
	// SchedulerTick is the scheduler's minute; 0: a minute. Not a flag:
	// tests and benchmarks shorten it (DB9_TEST_SCHEDULER_TICK for a
	// server process) so schedules fire in seconds; ticks are still
	// claimed one by one, so "at most once per tick" holds.
	SchedulerTick time.Duration
	// MetricsPerDatabase adds /metrics series labelled by database id
	// (one set per database: off by default for cardinality).
	MetricsPerDatabase bool
	// ObserveInterval is how often the observability collector reads the
	// running instances (default one minute; figures stay per wall-clock
	// minute whatever it is). Hidden: tests and benchmarks shorten it.
	ObserveInterval time.Duration
	// ObserveOff turns the collector off (hidden: the overhead benchmark
	// compares with it).
	ObserveOff bool
	// UnsafeFetchTrust lets functions fetch one loopback HTTPS origin
	// served by a test, trusting its CA. Not a flag and not documented:
	// only DB9_UNSAFE_FETCH_TRUST_ORIGIN and _CA set it, for tests.
	UnsafeFetchTrust FetchTrust
	// S3 is the S3-compatible storage function bundles may name
	// (s3://<bucket>/<key>); an empty Endpoint means none.
	S3 S3
}

// S3 configures the server's S3-compatible storage (internal/s3store
// checks it when the server opens).
type S3 struct {
	Endpoint  string // host[:port] or http(s)://host[:port]
	Region    string
	AccessKey string
	SecretKey string
	Insecure  bool     // plain HTTP to an endpoint given without scheme
	Buckets   []string // the buckets bundles may be deployed from
}

// FetchTrust is an HTTPS origin (https://<ip>:<port>) exempt from the
// functions' address guard and the PEM file of the CA its certificate
// chains to.
type FetchTrust struct {
	Origin string
	CAFile string
}

// Defaults returns the embedded defaults of API.md "Operating the server".
func Defaults() Server {
	return Server{
		DataDir:           "./db9-data",
		HTTPAddr:          "127.0.0.1:8080",
		PGAddr:            "127.0.0.1:5433",
		FS9Addr:           "127.0.0.1:5480",
		IdleTimeout:       5 * time.Minute,
		Region:            "local",
		AnonymousDBLimit:  5,
		WarmPool:          4,
		WarmPoolMax:       16,
		SparePool:         16,
		PGMaxConns:        97,
		PGPoolAddr:        "127.0.0.1:6543",
		PGPoolIdleTimeout: time.Minute,
		PITRRetention:     7 * 24 * time.Hour,
		BranchStageWALMB:  256,
		LogLevel:          "info",
	}
}

// FromEnv overlays DB9_* environment variables on c.
func (c Server) FromEnv(getenv func(string) string) (Server, error) {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str("DB9_DATA_DIR", &c.DataDir)
	str("DB9_HTTP_ADDR", &c.HTTPAddr)
	str("DB9_PG_ADDR", &c.PGAddr)
	str("DB9_FS9_ADDR", &c.FS9Addr)
	str("DB9_PG_POOL_ADDR", &c.PGPoolAddr)
	str("DB9_PUBLIC_HOST", &c.PublicHost)
	str("DB9_REGION", &c.Region)
	str("DB9_CATALOG_URL", &c.CatalogURL)
	str("DB9_LOG_LEVEL", &c.LogLevel)
	str("DB9_OIDC_ISSUER", &c.OIDCIssuer)
	str("DB9_OIDC_AUDIENCE", &c.OIDCAudience)
	str("DB9_OIDC_JWKS_URL", &c.OIDCJWKSURL)
	str("DB9_TLS_CERT", &c.TLSCert)
	str("DB9_TLS_KEY", &c.TLSKey)
	str("DB9_UNSAFE_FETCH_TRUST_ORIGIN", &c.UnsafeFetchTrust.Origin)
	str("DB9_UNSAFE_FETCH_TRUST_CA", &c.UnsafeFetchTrust.CAFile)
	// The AWS names are what S3 tools already export; DB9_* wins.
	str("AWS_REGION", &c.S3.Region)
	str("AWS_ACCESS_KEY_ID", &c.S3.AccessKey)
	str("AWS_SECRET_ACCESS_KEY", &c.S3.SecretKey)
	str("DB9_S3_ENDPOINT", &c.S3.Endpoint)
	str("DB9_S3_REGION", &c.S3.Region)
	str("DB9_S3_ACCESS_KEY", &c.S3.AccessKey)
	str("DB9_S3_SECRET_KEY", &c.S3.SecretKey)
	if v := getenv("DB9_S3_BUCKETS"); v != "" {
		c.S3.Buckets = strings.Split(v, ",")
	}
	if v := getenv("DB9_S3_INSECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("DB9_S3_INSECURE: %q is not true or false", v)
		}
		c.S3.Insecure = b
	}
	if v := getenv("DB9_PITR_RETENTION"); v != "" {
		d, err := ParseRetention(v)
		if err != nil {
			return c, fmt.Errorf("DB9_PITR_RETENTION: %w", err)
		}
		c.PITRRetention = d
	}
	if v := getenv("DB9_IDLE_TIMEOUT"); v != "" {
		d, err := ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("DB9_IDLE_TIMEOUT: %w", err)
		}
		c.IdleTimeout = d
	}
	if v := getenv("DB9_PG_POOL_IDLE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("DB9_PG_POOL_IDLE_TIMEOUT: %w", err)
		}
		c.PGPoolIdleTimeout = d
	}
	if v := getenv("DB9_METRICS_PER_DATABASE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("DB9_METRICS_PER_DATABASE: %q is not true or false", v)
		}
		c.MetricsPerDatabase = b
	}
	if v := getenv("DB9_TEST_SCHEDULER_TICK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("DB9_TEST_SCHEDULER_TICK: %w", err)
		}
		c.SchedulerTick = d
	}
	if v := getenv("DB9_ALLOW_PRIVATE_JWKS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("DB9_ALLOW_PRIVATE_JWKS: %q is not true or false", v)
		}
		c.AllowPrivateJWKS = b
	}
	for name, dst := range map[string]*int{"DB9_ANONYMOUS_DB_LIMIT": &c.AnonymousDBLimit, "DB9_WARM_POOL": &c.WarmPool, "DB9_WARM_POOL_MAX": &c.WarmPoolMax, "DB9_SPARE_POOL": &c.SparePool, "DB9_PG_MAX_CONNS": &c.PGMaxConns, "DB9_BRANCH_STAGE_WAL_MB": &c.BranchStageWALMB} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("%s: %q is not a number", name, v)
			}
			*dst = n
		}
	}
	return c, nil
}

// ParseDuration accepts Go durations and a bare "0".
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

// ParseRetention accepts Go durations and whole days ("7d").
func ParseRetention(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration like 7d or 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 7d or 36h", s)
	}
	return d, nil
}

// Validate checks the configuration and fills derived values (absolute data
// directory, public host).
func (c *Server) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("--http-addr %q: %v", c.HTTPAddr, err)
	}
	host, port, err := net.SplitHostPort(c.PGAddr)
	if err != nil {
		return fmt.Errorf("--pg-addr %q: %v", c.PGAddr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--pg-addr %q: port must be a number from 0 to 65535", c.PGAddr)
	}
	if c.FS9Addr != "" {
		if _, p, err := net.SplitHostPort(c.FS9Addr); err != nil {
			return fmt.Errorf("--fs9-addr %q: %v", c.FS9Addr, err)
		} else if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("--fs9-addr %q: port must be a number from 0 to 65535", c.FS9Addr)
		}
	}
	if c.PGPoolAddr != "" {
		if _, p, err := net.SplitHostPort(c.PGPoolAddr); err != nil {
			return fmt.Errorf("--pg-pool-addr %q: %v", c.PGPoolAddr, err)
		} else if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("--pg-pool-addr %q: port must be a number from 0 to 65535", c.PGPoolAddr)
		}
	}
	if c.PublicHost == "" {
		c.PublicHost = host
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				c.PublicHost = h
			} else {
				c.PublicHost = "localhost"
			}
		}
	}
	if c.PITRRetention <= 0 {
		return fmt.Errorf("--pitr-retention must be positive")
	}
	if c.BranchStageWALMB < 0 {
		return fmt.Errorf("--branch-stage-wal-mb must not be negative")
	}
	if c.PGPoolIdleTimeout <= 0 {
		return fmt.Errorf("--pg-pool-idle-timeout must be positive")
	}
	if c.ObserveInterval < 0 || (c.ObserveInterval > 0 && c.ObserveInterval < 100*time.Millisecond) {
		return fmt.Errorf("--observe-interval must be at least 100ms")
	}
	if c.SchedulerTick != 0 && (c.SchedulerTick < 100*time.Millisecond || c.SchedulerTick > time.Minute) {
		return fmt.Errorf("scheduler tick must be between 100ms and 1m")
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("--idle-timeout must not be negative")
	}
	if c.AnonymousDBLimit < 0 {
		return fmt.Errorf("--anonymous-db-limit must not be negative")
	}
	if c.WarmPool < 0 || c.WarmPool > 64 {
		return fmt.Errorf("--warm-pool must be between 0 and 64")
	}
	if c.WarmPoolMax < 0 || c.WarmPoolMax > 256 {
		return fmt.Errorf("--warm-pool-max must be between 0 and 256")
	}
	if c.SparePool < 0 || c.SparePool > 1000 {
		return fmt.Errorf("--spare-pool must be between 0 and 1000")
	}
	if c.Region == "" {
		return fmt.Errorf("--region must not be empty")
	}
	if (c.OIDCIssuer == "") != (c.OIDCAudience == "") {
		return fmt.Errorf("--oidc-issuer and --oidc-audience must be given together")
	}
	if c.OIDCJWKSURL != "" && c.OIDCIssuer == "" {
		return fmt.Errorf("--oidc-jwks-url needs --oidc-issuer and --oidc-audience")
	}
	if c.PGMaxConns < 1 || c.PGMaxConns > 1000 {
		return fmt.Errorf("--pg-max-conns must be between 1 and 1000")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key must be given together")
	}
	return nil
}

// PGPort returns the port of PGAddr (validated).
func (c Server) PGPort() int {
	_, p, _ := net.SplitHostPort(c.PGAddr)
	n, _ := strconv.Atoi(p)
	return n
}

// PGPoolPort returns the port of PGPoolAddr (validated), 0 when there is
// no pooled endpoint.
func (c Server) PGPoolPort() int {
	_, p, _ := net.SplitHostPort(c.PGPoolAddr)
	n, _ := strconv.Atoi(p)
	return n
}

// InstancePlatformConns is what an instance's max_connections holds
// beyond the front door's PGMaxConns: the platform's own sessions (three
// per-role pools of at most 10: admin for /sql, fs9 and functions,
// _db9_sys_readonly, the data API's authenticator), the 3
// superuser_reserved_connections and 10 to spare.
const InstancePlatformConns = 43

// InstanceMaxConnections is the max_connections instances start with.
func (c Server) InstanceMaxConnections() int { return c.PGMaxConns + InstancePlatformConns }

// FS9Port returns the port of FS9Addr (validated), 0 when there is no
// fs9 listener.
func (c Server) FS9Port() int {
	_, p, _ := net.SplitHostPort(c.FS9Addr)
	n, _ := strconv.Atoi(p)
	return n
}
