package catalog

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/otelshop/shop/internal/ids"
)

// Whatever the query string, a listing's parameters parse without panic; what is
// accepted is a bounded page of valid ids, category and text.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"page=2&page_size=10", "category=books&q=headphones", "ids=SKU-00001,SKU-00002", "q=%FF%FE", "page=-1", "ids=,,"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/v1/products", nil)
		r.URL.RawQuery = rawQuery
		q, err := parseQuery(r)
		if err != nil {
			return
		}
		if q.Page < 1 || q.Page > 10_000 || q.PageSize < 1 || q.PageSize > MaxIDsPerQuery {
			t.Fatalf("%q: page %d of %d", rawQuery, q.Page, q.PageSize)
		}
		if q.Category != "" && !ids.Category(q.Category) {
			t.Fatalf("%q: category %q", rawQuery, q.Category)
		}
		if !utf8.ValidString(q.Text) || strings.ContainsRune(q.Text, 0) || utf8.RuneCountInString(q.Text) > 100 {
			t.Fatalf("%q: text %q", rawQuery, q.Text)
		}
		if len(q.IDs) > MaxIDsPerQuery {
			t.Fatalf("%q: %d ids", rawQuery, len(q.IDs))
		}
		for _, id := range q.IDs {
			if !ids.Product(id) {
				t.Fatalf("%q: id %q", rawQuery, id)
			}
		}
	})
}
