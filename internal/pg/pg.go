// Package pg opens a service's own PostgreSQL database: it creates the database when
// missing, applies the service's embedded migrations once, and instruments the pool
// (spans with db.* attributes and the statement text without parameter values, plus
// pool metrics).
package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/telemetry"
)

// Open connects to database dbName on the server serverURL names, creating it when
// missing, and applies every migrations/*.sql file of migrations in name order, each once.
func Open(ctx context.Context, serverURL, dbName string, migrations fs.FS, tel *telemetry.Telemetry) (*pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, serverURL, dbName); err != nil {
		return nil, err
	}
	dbURL, err := withDatabase(serverURL, dbName)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	cfg.ConnConfig.Tracer = countingTracer{otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tel.TracerProvider),
		otelpgx.WithMeterProvider(tel.MeterProvider),
		otelpgx.WithTrimSQLInSpanName(),
		// Pool acquisition spans double the span count for no insight at this scale.
		otelpgx.WithDisableAcquireTracer(),
	)}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", dbName, err)
	}
	if err := otelpgx.RecordStats(pool, otelpgx.WithStatsMeterProvider(tel.MeterProvider)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pool metrics for %s: %w", dbName, err)
	}
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", dbName, err)
	}
	return pool, nil
}

// countingTracer is otelpgx's tracer that also counts each statement for the
// request running it (telemetry.CountStatement: repeated statements per request).
type countingTracer struct{ *otelpgx.Tracer }

func (t countingTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	telemetry.CountStatement(ctx, data.SQL)
	return t.Tracer.TraceQueryStart(ctx, conn, data)
}

func withDatabase(serverURL, dbName string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse postgres url: %w", err)
	}
	u.Path = "/" + dbName
	return u.String(), nil
}

// ensureDatabase creates dbName through the server's maintenance database. Two
// processes racing to create it are both fine.
func ensureDatabase(ctx context.Context, serverURL, dbName string) error {
	conn, err := connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, dbName).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", dbName, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize())
	var pgErr *pgconn.PgError
	if IsUniqueViolation(err) || errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return nil // created meanwhile by another process
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", dbName, err)
	}
	return nil
}

// connect opens one connection with the server URL the pools are made from, whose
// pool settings (pool_max_conns=2, say: N replicas of six services must fit the
// server's max_connections) a single connection must not send as server settings.
func connect(ctx context.Context, serverURL string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(serverURL)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// IsUniqueViolation says whether err is PostgreSQL refusing a row that
// duplicates a unique key (SQLSTATE 23505).
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// DropDatabase removes a database; tests use it to clean up after themselves.
func DropDatabase(ctx context.Context, serverURL, dbName string) error {
	conn, err := connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", dbName, err)
	}
	return nil
}

// migrate applies each migration in its own transaction under an advisory lock, so
// replicas starting together apply it once.
func migrate(ctx context.Context, pool *pgxpool.Pool, migrations fs.FS) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("no migrations/*.sql files")
	}
	sort.Strings(names)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lockID = 7_312_004 // any constant shared by the shop's migrators
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	for _, name := range names {
		sql, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING`, path.Base(name))
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			_, err = tx.Exec(ctx, string(sql))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply %s: %w", path.Base(name), err)
		}
	}
	return nil
}
