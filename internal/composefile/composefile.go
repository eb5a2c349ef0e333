// Package composefile reads the repository's compose.yaml with compose-go, the
// parser `docker compose` itself uses, for the tests and tools that must agree
// with it: the compose checks, and the end-to-end test running each process
// under the memory limit and GOMEMLIMIT its container has.
package composefile

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// Load reads a compose file the way `docker compose --profile load` does, with
// env as the only environment (not the caller's), so the result does not depend
// on who runs it. Overrides are further files merged over it, as with
// `docker compose -f path -f override`.
func Load(ctx context.Context, path string, env []string, overrides ...string) (*types.Project, error) {
	root, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions(append([]string{path}, overrides...),
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithProfiles([]string{"load"}),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options for %s: %w", path, err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return project, nil
}

// MemoryLimit is a service's memory limit in bytes (deploy.resources.limits.memory,
// or the older mem_limit); 0 when it has none.
func MemoryLimit(s types.ServiceConfig) int64 {
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.MemoryBytes > 0 {
		return int64(s.Deploy.Resources.Limits.MemoryBytes)
	}
	return int64(s.MemLimit)
}

// Env is the value of a service's environment variable, "" when unset.
func Env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}
