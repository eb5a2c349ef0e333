// Package flagdprov starts the OpenFeature flagd provider in in-process file
// mode on a flag file, for the measurement programs.
package flagdprov

import (
	"context"
	"fmt"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// Start starts the provider on path and returns a client of its own API and a
// function that shuts it down. In v0.6.0, WithInProcessResolver with an offline
// file path is the file resolver (flagd/core's file sync, watched with fsnotify).
func Start(ctx context.Context, path string) (*openfeature.Client, func(context.Context), error) {
	p, err := flagd.NewProvider(flagd.WithInProcessResolver(), flagd.WithOfflineFilePath(path))
	if err != nil {
		return nil, nil, fmt.Errorf("flagd provider: %w", err)
	}
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		return nil, nil, fmt.Errorf("flagd provider on %s: %w", path, err)
	}
	return api.NewClient(openfeature.WithDomain("flagdcompare")), func(ctx context.Context) { _ = api.Shutdown(ctx) }, nil
}
