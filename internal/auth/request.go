package auth

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/otelshop/shop/internal/httpx"
)

// UserID returns the authenticated user id the gateway put on r.
func UserID(r *http.Request) (string, error) {
	id := r.Header.Get(UserHeader)
	if id == "" {
		return "", httpx.Unauthorized("authentication required")
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", httpx.Unauthorized("invalid user identity")
	}
	return id, nil
}
