package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/service"
)

// makeSecrets makes (or keeps) the secret of every registered service and of the
// operators' client in DIR (default SHOP_SECRETS_DIR): what compose's secrets
// container does once, before the services start.
func makeSecrets(args []string, getenv func(string) string, stdout io.Writer) error {
	var dir string
	switch len(args) {
	case 0:
		var err error
		if dir, err = auth.SecretsDir(getenv); err != nil {
			return err
		}
	case 1:
		dir = args[0]
	default:
		return errors.New("usage: shop secrets [DIR]")
	}
	clients := append(app.Names(), auth.AdminClient)
	for _, client := range clients {
		if _, err := auth.EnsureSecret(dir, client); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "client secrets of %v in %s\n", clients, dir)
	return nil
}

// printToken prints a token of a client (a service, or admin for operators),
// obtained from users with the client's secret: for calling a service's API by
// hand, e.g. curl -H "Authorization: Bearer $(shop token admin)".
func printToken(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: shop token CLIENT (admin, or a service's name)")
	}
	dir, err := auth.SecretsDir(getenv)
	if err != nil {
		return err
	}
	secret, err := auth.EnsureSecret(dir, args[0])
	if err != nil {
		return err
	}
	users, _ := app.Lookup("users")
	issuer := service.NewEnv(getenv).String(users.PeerEnv(), users.PeerAddress(users.DefaultAddr()))
	token, err := auth.RemoteTokens(issuer, args[0], secret, &http.Client{Timeout: 10 * time.Second}).Token(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}
