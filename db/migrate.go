package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrations embed.FS

// migrationLockID is the PostgreSQL advisory lock that serializes Migrate
// across processes sharing one database.
const migrationLockID int64 = 0x77696e74726f // "wintro"

// Migrate applies every embedded migration of the dialect that is not applied yet.
// On PostgreSQL a session advisory lock makes concurrent callers (several
// replicas starting at once) take turns; the later ones find nothing to do.
func (d *DB) Migrate(ctx context.Context) error {
	p, err := d.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", d.Dialect, err)
	}
	return nil
}

// Pending returns how many embedded migrations are not applied yet; 0 means
// the schema is current. Used by /readyz.
func (d *DB) Pending(ctx context.Context) (int, error) {
	p, err := d.provider()
	if err != nil {
		return 0, err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("read migration status: %w", err)
	}

	pending := 0
	for _, s := range statuses {
		if s.State == goose.StatePending {
			pending++
		}
	}
	return pending, nil
}

func (d *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+string(d.Dialect))
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}

	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.logger != nil {
		opts = append(opts, goose.WithVerbose(true), goose.WithSlog(d.logger))
	}
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}

	p, err := goose.NewProvider(dialect, d.DB.DB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}
