// Command check runs tools/flagdcompare's behaviour checks for both providers
// and prints one line per check and provider. It exits 0 whatever the outcome:
// it reports, measure.sh records.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/otelshop/shop/tools/flagdcompare/internal/compare"
)

func main() {
	shipped := flag.String("file", "deploy/flags/shop.flags.json", "the shipped flag file (copied, never changed)")
	flag.Parse()
	ctx := context.Background()
	for _, p := range []compare.Provider{compare.Own(*shipped), compare.Flagd()} {
		for _, o := range compare.RunAll(ctx, p, *shipped) {
			verdict := "FAIL"
			if o.Pass {
				verdict = "pass"
			}
			fmt.Fprintf(os.Stdout, "%-5s | %-56s | %s | %s\n", p.Name, o.Check, verdict, o.Detail)
		}
	}
}
