package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The subset of Grafana's dashboard JSON model (schemaVersion 41, Grafana 12)
// the shop's dashboards use. The same types read the committed files back, so
// the tests check exactly what Grafana is given.

// Dashboard is one dashboard file.
type Dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description,omitempty"`
	Tags          []string    `json:"tags"`
	Timezone      string      `json:"timezone"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"`
	Refresh       string      `json:"refresh"`
	SchemaVersion int         `json:"schemaVersion"`
	Version       int         `json:"version"`
	Time          TimeRange   `json:"time"`
	Templating    Templating  `json:"templating"`
	Annotations   Annotations `json:"annotations"`
	Links         []Link      `json:"links"`
	Panels        []Panel     `json:"panels"`
}

// TimeRange is the dashboard's default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the template variables, evaluated in order.
type Templating struct {
	List []Variable `json:"list"`
}

// Annotations holds the dashboard's annotation queries.
type Annotations struct {
	List []Annotation `json:"list"`
}

// Annotation is Grafana's built-in annotation query (kept so the dashboard
// matches what Grafana would save).
type Annotation struct {
	BuiltIn    int            `json:"builtIn"`
	Datasource *DatasourceRef `json:"datasource"`
	Enable     bool           `json:"enable"`
	Hide       bool           `json:"hide"`
	IconColor  string         `json:"iconColor"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
}

// DatasourceRef names a provisioned datasource by uid, never by name.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Variable is a template variable. Query variables run Query (a
// label_values(...) or query_result(...) string) against Datasource; Regex
// extracts the value from each result.
type Variable struct {
	Name        string         `json:"name"`
	Label       string         `json:"label,omitempty"`
	Description string         `json:"description,omitempty"`
	Type        string         `json:"type"`
	Datasource  *DatasourceRef `json:"datasource,omitempty"`
	Query       string         `json:"query"`
	Definition  string         `json:"definition,omitempty"`
	Regex       string         `json:"regex"`
	Refresh     int            `json:"refresh"`
	Sort        int            `json:"sort"`
	Multi       bool           `json:"multi"`
	IncludeAll  bool           `json:"includeAll"`
	AllValue    string         `json:"allValue,omitempty"`
	Hide        int            `json:"hide"`
	Current     map[string]any `json:"current"`
	Options     []any          `json:"options"`
	SkipURLSync bool           `json:"skipUrlSync"`
}

// Link is a dashboard link or a data link.
type Link struct {
	Title       string   `json:"title"`
	Type        string   `json:"type,omitempty"` // dashboards or link (dashboard links only)
	URL         string   `json:"url,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	AsDropdown  bool     `json:"asDropdown,omitempty"`
	IncludeVars bool     `json:"includeVars,omitempty"`
	KeepTime    bool     `json:"keepTime,omitempty"`
	TargetBlank bool     `json:"targetBlank,omitempty"`
	Icon        string   `json:"icon,omitempty"`
	Tooltip     string   `json:"tooltip,omitempty"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Panel is a visualisation or a row.
type Panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         GridPos          `json:"gridPos"`
	Datasource      *DatasourceRef   `json:"datasource,omitempty"`
	Targets         []Target         `json:"targets,omitempty"`
	FieldConfig     *FieldConfig     `json:"fieldConfig,omitempty"`
	Options         map[string]any   `json:"options,omitempty"`
	Transformations []Transformation `json:"transformations,omitempty"`
	Links           []Link           `json:"links,omitempty"`
	Collapsed       *bool            `json:"collapsed,omitempty"` // rows only
	Panels          []Panel          `json:"panels,omitempty"`    // collapsed rows only
}

// Target is one query of a panel.
type Target struct {
	RefID        string         `json:"refId"`
	Datasource   *DatasourceRef `json:"datasource"`
	Expr         string         `json:"expr,omitempty"`
	LegendFormat string         `json:"legendFormat,omitempty"`
	Range        bool           `json:"range,omitempty"`
	Instant      bool           `json:"instant,omitempty"`
	Exemplar     bool           `json:"exemplar,omitempty"`
	Format       string         `json:"format,omitempty"`
	Interval     string         `json:"interval,omitempty"`
	QueryType    string         `json:"queryType,omitempty"` // Jaeger: dependencyGraph
}

// FieldConfig sets units, thresholds and data links.
type FieldConfig struct {
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []any         `json:"overrides"`
}

// FieldDefaults are the defaults of every field of a panel.
type FieldDefaults struct {
	Unit       string         `json:"unit,omitempty"`
	Decimals   *int           `json:"decimals,omitempty"`
	Min        *float64       `json:"min,omitempty"`
	Max        *float64       `json:"max,omitempty"`
	Color      map[string]any `json:"color,omitempty"`
	Thresholds *Thresholds    `json:"thresholds,omitempty"`
	Custom     map[string]any `json:"custom,omitempty"`
	Links      []Link         `json:"links,omitempty"`
	NoValue    string         `json:"noValue,omitempty"`
}

// Thresholds colour a value.
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Step is one threshold: from Value (nil: minus infinity) on, Color.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// Transformation is a Grafana data transformation.
type Transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}

// Encode renders a dashboard as Grafana reads it: indented JSON, newline-terminated.
func Encode(d Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode dashboard %s: %w", d.UID, err)
	}
	return buf.Bytes(), nil
}

// FileName is where a dashboard is written in this folder.
func FileName(d Dashboard) string { return d.UID + ".json" }

// File is a dashboard read from disk.
type File struct {
	Path      string
	Dashboard Dashboard
}

// ReadDir parses every *.json file in dir, strictly: an unknown field is an error,
// so a file the generator did not write is noticed.
func ReadDir(dir string) ([]File, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var files []File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var d Dashboard
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		files = append(files, File{Path: p, Dashboard: d})
	}
	return files, nil
}

// AllPanels lists every non-row panel, including those inside collapsed rows.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// DatasourceOf is the datasource a target runs against: its own, else its panel's.
func DatasourceOf(p Panel, t Target) *DatasourceRef {
	if t.Datasource != nil {
		return t.Datasource
	}
	return p.Datasource
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
