// Command flagd evaluates the scenario's flags with the OpenFeature flagd
// provider in in-process file mode: one of the two programs whose size, build
// time and dependencies tools/flagdcompare/measure.sh compares.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/otelshop/shop/tools/flagdcompare/internal/flagdprov"
	"github.com/otelshop/shop/tools/flagdcompare/internal/scenario"
)

func main() {
	file := flag.String("file", "deploy/flags/shop.flags.json", "flag file in flagd's format")
	flag.Parse()
	ctx := context.Background()
	start := time.Now()
	client, stop, err := flagdprov.Start(ctx, *file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flagd:", err)
		os.Exit(1)
	}
	defer stop(ctx)
	fmt.Printf("provider flagd ready in %s\n", time.Since(start).Round(time.Microsecond))
	scenario.Print(ctx, os.Stdout, client)
}
