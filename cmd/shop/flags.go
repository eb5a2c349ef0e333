package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/flags"
)

const flagsUsage = `usage: shop flags list [-json] | set NAME VARIANT | reset

  list            every fault flag: its service, its variant now, its variants, what it does
  set NAME VAR    turn a fault on (or off: VARIANT off); every process follows within a second
  reset           every flag back to off

The file is FLAGS_FILE (default ` + flags.DefaultFile + `), the one every process reads.`

// usageError makes main exit 2: the command named something that does not exist.
type usageError struct{ error }

// runFlags lists and changes the fault flags in the flag file.
func runFlags(args []string, getenv func(string) string, stdout io.Writer) error {
	path := getenv(flags.FileEnv)
	if path == "" {
		path = flags.DefaultFile
	}
	known := app.Faults()
	if len(args) == 0 {
		return usageError{errors.New(flagsUsage)}
	}
	switch cmd := args[0]; {
	case cmd == "list" && (len(args) == 1 || len(args) == 2 && args[1] == "-json"):
		list, err := flags.List(path, known)
		if err != nil {
			return err
		}
		if len(args) == 2 {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		printFlags(stdout, path, list)
		return nil
	case cmd == "set" && len(args) == 3:
		previous, err := flags.SetVariant(path, known, args[1], args[2])
		var bad *flags.UsageError
		if errors.As(err, &bad) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s -> %s (%s)\n", args[1], previous, args[2], path)
		return nil
	case cmd == "reset" && len(args) == 1:
		changed, err := flags.Reset(path, known)
		if err != nil {
			return err
		}
		if len(changed) == 0 {
			fmt.Fprintf(stdout, "every flag was off already (%s)\n", path)
		} else {
			fmt.Fprintf(stdout, "turned off: %s (%s)\n", strings.Join(changed, ", "), path)
		}
		return nil
	}
	return usageError{errors.New(flagsUsage)}
}

func printFlags(w io.Writer, path string, list []flags.Status) {
	fmt.Fprintf(w, "%d fault flags in %s\n\n", len(list), path)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLAG\tSERVICE\tNOW\tVARIANTS\tWHAT GOES WRONG")
	for _, s := range list {
		now := s.Variant
		if s.Active {
			now += " (ACTIVE)"
		}
		if s.Targeting != "" {
			now += " +targeting"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Key, s.Service, now, strings.Join(s.Variants, " "), s.Summary)
	}
	tw.Flush()
	for _, s := range list {
		if s.Targeting != "" {
			fmt.Fprintf(w, "\n%s targeting: %s", s.Key, s.Targeting)
		}
	}
	fmt.Fprintln(w)
}
