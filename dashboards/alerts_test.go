package dashboards

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	promrules "github.com/otelshop/shop/deploy/prometheus/rules"
)

// Each alert signal's red line is its alert's threshold: the number follows a
// comparison in the alert's expression, or stands in a recording rule the
// expression compares with (CPU per request against its budget).
func TestAlertSignals_ThresholdIsTheAlerts(t *testing.T) {
	all, err := promrules.Load(filepath.Join("..", "deploy", "prometheus", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, records := map[string]string{}, map[string]string{}
	for _, r := range all {
		if r.Alert != "" {
			alerts[r.Alert] = r.Expr
		} else {
			records[r.Record] = r.Expr
		}
	}
	recording := regexp.MustCompile(`\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b`)
	for _, s := range alertSignals("$service") {
		expr, ok := alerts[s.alert]
		if !ok {
			t.Errorf("%s: no such alert in the rule files", s.alert)
			continue
		}
		n := regexp.QuoteMeta(strconv.FormatFloat(s.threshold, 'f', -1, 64))
		found := regexp.MustCompile(`(?:>=|<=|>|<)\s*` + n + `(?:[^0-9.]|$)`).MatchString(expr)
		for _, name := range recording.FindAllString(expr, -1) {
			found = found || regexp.MustCompile(`(?:^|[^0-9.])`+n+`(?:[^0-9.]|$)`).MatchString(records[name])
		}
		if !found {
			t.Errorf("%s: the panel's red line is at %v, which the alert's expression does not compare with:\n%s", s.alert, s.threshold, expr)
		}
	}
}
