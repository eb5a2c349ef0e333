package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// The dashboard files, written and read through the SDK's dashboard type: the
// tests (and e2e/dashboards_test.go) check exactly what Grafana is given.

// Encode renders a dashboard as Grafana reads it: indented JSON, newline-terminated.
func Encode(d dashboard.Dashboard) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode dashboard %s: %w", deref(d.Uid), err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, unescapeHTML(raw), "", "  "); err != nil {
		return nil, fmt.Errorf("encode dashboard %s: %w", deref(d.Uid), err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// unescapeHTML undoes encoding/json's \u003c, \u003e and \u0026, which the
// SDK's own marshallers write for <, > and &: PromQL (> 0) and URLs (&var-env)
// stay readable in the files and their diffs. Other escapes are kept.
func unescapeHTML(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 == len(raw) {
			out = append(out, raw[i])
			continue
		}
		if raw[i+1] == 'u' && i+6 <= len(raw) {
			if c, ok := htmlEscapes[string(raw[i+2:i+6])]; ok {
				out = append(out, c)
				i += 5
				continue
			}
		}
		out = append(out, raw[i], raw[i+1]) // an escape pair, \\ included, as it is
		i++
	}
	return out
}

var htmlEscapes = map[string]byte{"003c": '<', "003e": '>', "0026": '&'}

// FileName is where a dashboard is written in this folder.
func FileName(d dashboard.Dashboard) string { return deref(d.Uid) + ".json" }

// File is a dashboard read from disk.
type File struct {
	Path      string
	Dashboard dashboard.Dashboard
}

// ReadDir decodes every *.json file in dir with Decode, so a file the
// generator did not write, or Grafana would not understand, is noticed.
func ReadDir(dir string) ([]File, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var files []File
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		d, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, File{Path: p, Dashboard: d})
	}
	return files, nil
}

// registerVariants tells the SDK's decoder every panel and query type, its
// own and the shop's Jaeger query: unregistered, panel options, custom field
// config and queries would be decoded as untyped maps and nothing in them checked.
var registerVariants = sync.OnceFunc(func() {
	plugins.RegisterDefaultPlugins()
	cog.NewRuntime().RegisterDataqueryVariant(jaegerVariant())
})

// Decode reads a dashboard strictly: an unknown field anywhere, or a required
// one missing, in the dashboard, its variables, links, panels, panel options,
// field config and queries, is an error that names its path.
//
// The strict decoders only check: the value they fill in loses every panel,
// panel options and query, because they take their own nested decoders'
// typed-nil cog.BuildErrors for a failure. The value comes from the SDK's
// ordinary decoders, which type options and queries the same way.
func Decode(raw []byte) (dashboard.Dashboard, error) {
	registerVariants()
	var strict dashboard.Dashboard
	if err := buildErrors(strict.UnmarshalJSONStrict(raw)); err != nil {
		return dashboard.Dashboard{}, err
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, err
	}
	// The SDK decodes a panel's fieldConfig leniently but for its custom part:
	// decode the rest (defaults, data links, overrides) strictly as well.
	var top struct {
		Panels []panelFieldConfig `json:"panels"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return d, err
	}
	var errs []error
	var check func(path string, ps []panelFieldConfig)
	check = func(path string, ps []panelFieldConfig) {
		for i, p := range ps {
			at := path + "[" + strconv.Itoa(i) + "]"
			if p.FieldConfig != nil {
				var fc dashboard.FieldConfigSource
				if err := buildErrors(fc.UnmarshalJSONStrict(p.FieldConfig)); err != nil {
					errs = append(errs, fmt.Errorf("%s.fieldConfig: %w", at, err))
				}
			}
			check(at+".panels", p.Panels)
		}
	}
	check("panels", top.Panels)
	return d, errors.Join(errs...)
}

type panelFieldConfig struct {
	FieldConfig json.RawMessage    `json:"fieldConfig"`
	Panels      []panelFieldConfig `json:"panels"` // a collapsed row's
}

// buildErrors makes the SDK's strict decoders' result a plain error: they
// return a cog.BuildErrors even when it is empty, a non-nil error holding a
// nil slice.
func buildErrors(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// AllPanels lists every panel that is not a row, including those inside collapsed rows.
func AllPanels(d dashboard.Dashboard) []dashboard.Panel {
	var out []dashboard.Panel
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			out = append(out, *p.Panel)
		case p.RowPanel != nil:
			out = append(out, p.RowPanel.Panels...)
		}
	}
	return out
}

// DatasourceOf is the datasource a query of a decoded dashboard runs against:
// its own, else its panel's; nil when neither names one.
func DatasourceOf(p dashboard.Panel, q variants.Dataquery) *Datasource {
	if _, ds := queryRef(q); ds != nil {
		return ds
	}
	return datasourceOf(p.Datasource)
}

// queryRef is what every query the dashboards use carries, whatever its
// datasource: its refId and its own datasource (nil for a query type the
// dashboards do not use).
func queryRef(q variants.Dataquery) (refID string, ds *Datasource) {
	switch q := q.(type) {
	case *prometheus.Dataquery:
		return deref(q.RefId), datasourceOf(q.Datasource)
	case *JaegerQuery:
		return q.RefId, datasourceOf(q.Datasource)
	}
	return "", nil
}

func datasourceOf(ref *common.DataSourceRef) *Datasource {
	if ref == nil {
		return nil
	}
	return &Datasource{Type: deref(ref.Type), UID: deref(ref.Uid)}
}

// VariableQuery is a query variable's query, label_values(...) or query_result(...).
func VariableQuery(v dashboard.VariableModel) string {
	if v.Query == nil {
		return ""
	}
	return deref(v.Query.String)
}

// deref reads the SDK's optional fields: absent is the zero value.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// VariableRefs lists the names of the template variables s refers to ($name,
// ${name} or ${name:format}); Grafana's built-ins ($__...) are left out.
func VariableRefs(s string) []string {
	var names []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		rest := s[i+1:]
		var name string
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				continue
			}
			name, _, _ = strings.Cut(rest[1:end], ":")
			name, _, _ = strings.Cut(name, ".")
		} else {
			j := 0
			for j < len(rest) && (rest[j] == '_' || rest[j] >= 'a' && rest[j] <= 'z' || rest[j] >= 'A' && rest[j] <= 'Z' || rest[j] >= '0' && rest[j] <= '9') {
				j++
			}
			name = rest[:j]
		}
		// $1 is a label_replace group, $__x a Grafana built-in.
		if name == "" || name[0] >= '0' && name[0] <= '9' || strings.HasPrefix(name, "__") {
			continue
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}
