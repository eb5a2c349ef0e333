// Command dashboards writes the shop's Grafana dashboards (package dashboards)
// as JSON files, one per dashboard, named by uid; with -check it writes
// nothing and fails when a file differs from what it would write.
//
//	go run ./cmd/dashboards -out dashboards          # what go generate ./dashboards runs
//	go run ./cmd/dashboards -out dashboards -check   # are the committed files current?
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otelshop/shop/dashboards"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("dashboards", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("out", "dashboards", "folder to write the JSON files into")
	check := flags.Bool("check", false, "write nothing; fail when a file is missing, stale or not generated")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	files, err := dashboards.Render(dashboards.All())
	if err != nil {
		return err
	}
	if *check {
		problems, err := dashboards.Diff(*out, files)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s is not what cmd/dashboards generates (run `go generate ./dashboards`):\n  %s", *out, strings.Join(problems, "\n  "))
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, name))
	}
	// A dashboard removed from the code must not stay provisioned.
	stale, err := filepath.Glob(filepath.Join(*out, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range stale {
		if _, ok := files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %s\n", p)
		}
	}
	return nil
}
