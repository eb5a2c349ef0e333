package telemetry

import (
	"context"
	"testing"
)

// The most repeated statement is counted per request, and a request's
// transactions (pgx's begin, commit, rollback) are not a repeated statement.
func TestCountStatement_MostRepeatedSkipsTransactions(t *testing.T) {
	c := new(statementCounts)
	ctx := context.WithValue(context.Background(), statementsKey{}, c)
	for range 3 {
		CountStatement(ctx, "begin")
		CountStatement(ctx, "SELECT 1")
		CountStatement(ctx, "commit")
	}
	CountStatement(ctx, "rollback")
	CountStatement(ctx, "SELECT 2")
	if got := c.mostRepeated(); got != 3 {
		t.Errorf("most repeated: %d; want 3 (SELECT 1)", got)
	}
	c.reset()
	for range 4 {
		CountStatement(ctx, "begin")
	}
	if got := c.mostRepeated(); got != 0 {
		t.Errorf("four transactions counted as a statement run %d times; want 0", got)
	}
	CountStatement(context.Background(), "SELECT 1") // outside a request: nothing to count, no panic
}
