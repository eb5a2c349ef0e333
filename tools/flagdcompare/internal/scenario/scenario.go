// Package scenario is what both measurement programs evaluate: the same flags of
// the shop's flag file, for the same subjects, through the OpenFeature client.
package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/open-feature/go-sdk/openfeature"
)

// The flags evaluated: one that is off (no targeting), and one with a targeting
// rule on productId that the harness switches on, as `shop flags set
// catalogProductErrors on` does.
const (
	OffFlag         = "catalogSlowSearch"
	TargetedFlag    = "catalogProductErrors"
	TargetedVariant = "on"
	// TargetedProduct is the product the shipped rule names; OtherProduct is not.
	TargetedProduct = "SKU-00042"
	OtherProduct    = "SKU-00001"
)

// Case is one evaluation.
type Case struct{ Flag, ProductID string }

// Cases are the evaluations the programs print.
var Cases = []Case{{OffFlag, OtherProduct}, {TargetedFlag, TargetedProduct}, {TargetedFlag, OtherProduct}}

// Context is the evaluation context of a request about one product.
func Context(productID string) openfeature.EvaluationContext {
	return openfeature.NewTargetlessEvaluationContext(map[string]any{"productId": productID})
}

// Result is what an evaluation returned, the value as JSON so that the shop's
// Value struct and flagd's map[string]any compare.
type Result struct {
	Variant, Reason, Value, Error string
}

func (r Result) String() string {
	s := fmt.Sprintf("variant=%q reason=%s value=%s", r.Variant, r.Reason, r.Value)
	if r.Error != "" {
		s += " error=" + r.Error
	}
	return s
}

// Evaluate runs one case through the client as an object flag.
func Evaluate(ctx context.Context, c *openfeature.Client, cs Case) Result {
	d, err := c.ObjectValueDetails(ctx, cs.Flag, map[string]any{}, Context(cs.ProductID))
	b, jerr := json.Marshal(d.Value)
	if jerr != nil {
		b = []byte(fmt.Sprintf("%#v", d.Value))
	}
	r := Result{Variant: d.Variant, Reason: string(d.Reason), Value: string(b)}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// Print evaluates every case and prints one line each.
func Print(ctx context.Context, w io.Writer, c *openfeature.Client) {
	for _, cs := range Cases {
		fmt.Fprintf(w, "%s productId=%s: %s\n", cs.Flag, cs.ProductID, Evaluate(ctx, c, cs))
	}
}
