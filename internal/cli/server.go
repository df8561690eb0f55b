package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/server"
)

func newServerCmd(env Env) *cobra.Command {
	cfg := config.Defaults()
	var envErr error
	cfg, envErr = cfg.FromEnv(getenv(env))
	retention := formatRetention(cfg.PITRRetention)
	idle := cfg.IdleTimeout.String()
	if cfg.IdleTimeout == 0 {
		idle = "0"
	}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the db9 platform (REST API, instances, catalog) in one process",
		Example: `  db9 server
  db9 server --data-dir /var/lib/db9 --http-addr 0.0.0.0:8080 --idle-timeout 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil {
				return envErr
			}
			d, err := config.ParseDuration(idle)
			if err != nil {
				return err
			}
			cfg.IdleTimeout = d
			if cfg.PITRRetention, err = config.ParseRetention(retention); err != nil {
				return fmt.Errorf("--pitr-retention: %w", err)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := newLogger(env.Stderr, cfg.LogLevel)
			if err != nil {
				return err
			}
			srv := server.New(cfg, log)
			if err := srv.Open(cmd.Context()); err != nil {
				return err
			}
			err = srv.Wait(cmd.Context())
			log = log.With(logkey.Component, "server")
			log.Info("shutting down")
			_ = srv.Close(context.Background())
			log.Info("stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "where databases, archives, the catalog and secrets live [DB9_DATA_DIR]")
	f.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "REST API listen address [DB9_HTTP_ADDR]")
	f.StringVar(&cfg.PGAddr, "pg-addr", cfg.PGAddr, "PostgreSQL front door listen address [DB9_PG_ADDR]")
	f.StringVar(&cfg.FS9Addr, "fs9-addr", cfg.FS9Addr, "fs9 WebSocket listen address (wss with --tls-cert); empty: only /fs9 on --http-addr [DB9_FS9_ADDR]")
	f.StringVar(&cfg.PublicHost, "public-host", cfg.PublicHost, "host put into connection strings (default: host of --pg-addr) [DB9_PUBLIC_HOST]")
	f.StringVar(&idle, "idle-timeout", idle, "stop a database's instance after this long without use; 0 never stops [DB9_IDLE_TIMEOUT]")
	f.StringVar(&retention, "pitr-retention", retention, "how far back branches may reach (snapshot_at); older WAL and base backups are pruned [DB9_PITR_RETENTION]")
	f.IntVar(&cfg.BranchStageWALMB, "branch-stage-wal-mb", cfg.BranchStageWALMB, "WAL (MB) a branch stages ahead of its replay (no process per segment); 0: fetch it segment by segment with restore_command [DB9_BRANCH_STAGE_WAL_MB]")
	f.StringVar(&cfg.Region, "region", cfg.Region, "region name of this server [DB9_REGION]")
	f.StringVar(&cfg.CatalogURL, "catalog-url", cfg.CatalogURL, "external PostgreSQL for the catalog (default: a managed cluster under --data-dir) [DB9_CATALOG_URL]")
	f.IntVar(&cfg.AnonymousDBLimit, "anonymous-db-limit", cfg.AnonymousDBLimit, "databases an anonymous account may hold [DB9_ANONYMOUS_DB_LIMIT]")
	f.IntVar(&cfg.WarmPool, "warm-pool", cfg.WarmPool, "pre-started instances kept ready for fast creates [DB9_WARM_POOL]")
	f.IntVar(&cfg.WarmPoolMax, "warm-pool-max", cfg.WarmPoolMax, "the warm pool grows up to this after creates find it empty, and shrinks back after 10 minutes without [DB9_WARM_POOL_MAX]")
	f.IntVar(&cfg.SparePool, "spare-pool", cfg.SparePool, "stopped copies of the golden directory kept ready, so creates skip the copy [DB9_SPARE_POOL]")
	f.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate of the PostgreSQL front door (default: self-signed, generated under --data-dir/secrets) [DB9_TLS_CERT]")
	f.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert [DB9_TLS_KEY]")
	f.IntVar(&cfg.PGMaxConns, "pg-max-conns", cfg.PGMaxConns, "PostgreSQL sessions allowed per database, pooled-endpoint backends included (instances start with max_connections = this + 43 for the platform's own sessions) [DB9_PG_MAX_CONNS]")
	f.DurationVar(&cfg.PGPoolIdleTimeout, "pg-pool-idle-timeout", cfg.PGPoolIdleTimeout, "close a pooled endpoint's backend unused for this long (so idle databases can stop) [DB9_PG_POOL_IDLE_TIMEOUT]")
	f.StringVar(&cfg.PGPoolAddr, "pg-pool-addr", cfg.PGPoolAddr, "pooled PostgreSQL endpoint (transaction pooling, same users and credentials as --pg-addr); empty: none [DB9_PG_POOL_ADDR]")
	f.BoolVar(&cfg.AllowPrivateJWKS, "allow-private-jwks", cfg.AllowPrivateJWKS, "let auth-configs fetch JWKS from loopback and private addresses (self-hosted identity providers) [DB9_ALLOW_PRIVATE_JWKS]")
	f.BoolVar(&cfg.MetricsPerDatabase, "metrics-per-database", cfg.MetricsPerDatabase, "add /metrics series per database (one set per database) [DB9_METRICS_PER_DATABASE]")
	f.DurationVar(&cfg.ObserveInterval, "observe-interval", cfg.ObserveInterval, "how often running instances' statistics are read (default 1m; figures stay per minute)")
	f.BoolVar(&cfg.ObserveOff, "observe-off", cfg.ObserveOff, "do not collect observability figures (benchmarks)")
	_ = f.MarkHidden("observe-interval")
	_ = f.MarkHidden("observe-off")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error [DB9_LOG_LEVEL]")
	f.StringVar(&cfg.OIDCIssuer, "oidc-issuer", cfg.OIDCIssuer, "OIDC issuer whose id_tokens POST /customer/claim accepts [DB9_OIDC_ISSUER]")
	f.StringVar(&cfg.OIDCAudience, "oidc-audience", cfg.OIDCAudience, "audience (client id) those id_tokens must carry [DB9_OIDC_AUDIENCE]")
	f.StringVar(&cfg.OIDCJWKSURL, "oidc-jwks-url", cfg.OIDCJWKSURL, "JWKS of the issuer (default: from its discovery document) [DB9_OIDC_JWKS_URL]")
	addS3Flags(f, &cfg.S3)
	return cmd
}

// formatRetention shows whole days as "7d", anything else as a Go duration.
func formatRetention(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
