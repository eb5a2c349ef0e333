// Command own evaluates the scenario's flags with the shop's own provider
// (internal/flags): one of the two programs whose size, build time and
// dependencies tools/flagdcompare/measure.sh compares.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/tools/flagdcompare/internal/ownprov"
	"github.com/otelshop/shop/tools/flagdcompare/internal/scenario"
)

func main() {
	file := flag.String("file", flags.DefaultFile, "flag file in flagd's format")
	flag.Parse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	set, err := ownprov.Start(ctx, *file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "own:", err)
		os.Exit(1)
	}
	fmt.Printf("provider %s ready in %s\n", flags.ProviderName, time.Since(start).Round(time.Microsecond))
	scenario.Print(ctx, os.Stdout, set.Client())
}
