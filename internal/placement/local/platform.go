package local

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/platformsql"
	"github.com/db9/db9/internal/postgres"
)

// platformUpgrade brings the platform objects (platformsql) of an
// instance that has just started to the current version.
type platformUpgrade struct {
	set   *platformsql.Set // nil: none to ensure
	runAs pgbin.RunAs
	log   *slog.Logger
}

// ensure upgrades in's platform objects, once: the marker file in its
// data directory says which version it holds, so a current database costs
// one small file read per start. A failure is logged, not fatal: the
// database serves what it has, and the next start tries again.
func (u platformUpgrade) ensure(ctx context.Context, in *inst) {
	if u.set == nil || postgres.ReadMarker(in.cl.Data, postgres.PlatformMarker) == u.set.Version() {
		return
	}
	err := func() error {
		conn, err := pgconn.Connect(ctx, postgres.SuperuserConnString(in.cl.SocketDir))
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		applied, err := u.set.Ensure(ctx, conn)
		if err != nil {
			return err
		}
		if applied {
			u.log.Info("upgraded platform objects", logkey.DB, in.id, logkey.Version, u.set.Version())
		}
		return postgres.WriteMarker(in.cl.Data, postgres.PlatformMarker, u.set.Version(), u.runAs)
	}()
	if err != nil {
		u.log.Error("upgrade platform objects failed; the next start retries", logkey.DB, in.id, logkey.Err, err)
	}
}
