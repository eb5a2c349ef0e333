package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SecretsDirEnv names the directory that holds each client's secret, one file
// per client: <client>.secret. Nothing in the repository holds a secret: the
// files are made on first use (compose runs `shop secrets` once; Kubernetes gives
// each pod its own Secret).
const SecretsDirEnv = "SHOP_SECRETS_DIR"

// AdminClient is the operators' client: its tokens carry RoleAdmin.
const AdminClient = "admin"

var clientPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// SecretsDir is where the secrets are: SHOP_SECRETS_DIR, else the user's state
// directory ($XDG_STATE_HOME or ~/.local/state)/otelshop/secrets.
func SecretsDir(getenv func(string) string) (string, error) {
	if dir := getenv(SecretsDirEnv); dir != "" {
		return dir, nil
	}
	state := getenv("XDG_STATE_HOME")
	if state == "" {
		home := getenv("HOME")
		if home == "" {
			return "", fmt.Errorf("set %s: no HOME to keep the client secrets under", SecretsDirEnv)
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "otelshop", "secrets"), nil
}

// EnsureSecret returns client's secret from dir, making it first when there is
// none: 32 random bytes, written once (a racing process's secret wins), readable
// by the owner only.
func EnsureSecret(dir, client string) (string, error) {
	if !clientPattern.MatchString(client) {
		return "", fmt.Errorf("client name %q: want lower-case letters, digits, dashes", client)
	}
	path := filepath.Join(dir, client+".secret")
	if secret, err := readSecret(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("client secrets: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+client+".secret-*")
	if err != nil {
		return "", fmt.Errorf("client secrets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(base64.RawURLEncoding.EncodeToString(b) + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A hard link fails when the file exists: whoever linked first made the secret.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("client secrets: %w", err)
	}
	return readSecret(path)
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 32 {
		return "", fmt.Errorf("%s holds no secret of at least 32 characters", path)
	}
	return secret, nil
}

// ReadSecrets reads every client's secret in dir: the issuer checks them.
func ReadSecrets(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("client secrets: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		client, ok := strings.CutSuffix(e.Name(), ".secret")
		if !ok || e.IsDir() || !clientPattern.MatchString(client) {
			continue
		}
		secret, err := readSecret(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[client] = secret
	}
	return out, nil
}

// RolesOf are the roles a client's tokens carry: its own name, and admin for the
// operators' client.
func RolesOf(client string) []string {
	if client == AdminClient {
		return []string{RoleAdmin}
	}
	return []string{client}
}
