package users

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/pg"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// User is a registered shopper. PasswordHash never leaves this package's store.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	CreatedAt    time.Time `json:"created_at"`
	PasswordHash string    `json:"-"`
}

var (
	errEmailTaken = errors.New("email already registered")
	errNoUser     = errors.New("no such user")
)

type store struct{ db *pgxpool.Pool }

func (s store) create(ctx context.Context, u User) (User, error) {
	err := s.db.QueryRow(ctx,
		`INSERT INTO users (id, email, password_hash, name) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		u.ID, u.Email, u.PasswordHash, u.Name).Scan(&u.CreatedAt)
	if pg.IsUniqueViolation(err) {
		return User{}, errEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

func (s store) byEmail(ctx context.Context, email string) (User, error) {
	return s.one(ctx, `SELECT id, email, name, created_at, password_hash FROM users WHERE lower(email) = lower($1)`, email)
}

func (s store) byID(ctx context.Context, id string) (User, error) {
	return s.one(ctx, `SELECT id, email, name, created_at, password_hash FROM users WHERE id = $1`, id)
}

func (s store) one(ctx context.Context, sql, arg string) (User, error) {
	var u User
	err := s.db.QueryRow(ctx, sql, arg).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &u.PasswordHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, errNoUser
	}
	if err != nil {
		return User{}, fmt.Errorf("select user: %w", err)
	}
	return u, nil
}
