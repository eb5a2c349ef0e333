package telemetry

import (
	"context"
	"sync"
)

// statementCounts counts the SQL statements one request runs, so that the server
// can record how often its most repeated statement ran: the signature of N+1
// queries, which no latency or error metric shows. A request runs few distinct
// statements; past maxStatements the rest are not told apart.
type statementCounts struct {
	mu    sync.Mutex
	n     int
	sql   [maxStatements]string
	count [maxStatements]int32
}

const maxStatements = 16

type statementsKey struct{}

var statementPool = sync.Pool{New: func() any { return new(statementCounts) }}

// CountStatement records that the request of ctx ran sql (internal/pg calls it
// for every query). Outside a request it does nothing.
func CountStatement(ctx context.Context, sql string) {
	c, ok := ctx.Value(statementsKey{}).(*statementCounts)
	if !ok {
		return
	}
	switch sql {
	case "begin", "commit", "rollback": // pgx's transaction statements: a request's transactions are not a loop's queries
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.n {
		if c.sql[i] == sql {
			c.count[i]++
			return
		}
	}
	if c.n < maxStatements {
		c.sql[c.n], c.count[c.n] = sql, 1
		c.n++
	}
}

// mostRepeated is how often the most repeated statement ran, 0 for none.
func (c *statementCounts) mostRepeated() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var top int32
	for _, n := range c.count[:c.n] {
		top = max(top, n)
	}
	return int64(top)
}

func (c *statementCounts) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sql, c.count, c.n = [maxStatements]string{}, [maxStatements]int32{}, 0
}
