package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DatasourcesFile is the Grafana provisioning file that defines the datasources
// the dashboards name, relative to the repository root.
const DatasourcesFile = "deploy/grafana/provisioning/datasources/datasources.yaml"

// ProvisionedDatasource is one datasource of DatasourcesFile, as far as the
// checks of the dashboards need it.
type ProvisionedDatasource struct {
	Name     string         `yaml:"name"`
	UID      string         `yaml:"uid"`
	Type     string         `yaml:"type"`
	JSONData map[string]any `yaml:"jsonData"`
}

// LinkedUIDs lists every datasource that d's cross-signal links name
// (exemplars, traces to logs/metrics, derived fields), at any depth: by
// datasourceUid, or as the data source of an Explore URL (`url: /explore?...`).
func (d ProvisionedDatasource) LinkedUIDs() []string {
	var uids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if uid, ok := v["datasourceUid"].(string); ok {
				uids = append(uids, uid)
			}
			if link, ok := v["url"].(string); ok {
				uids = append(uids, exploreDatasources(link)...)
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(d.JSONData)
	return uids
}

// exploreDatasources returns the data sources an Explore URL's panes open, or
// the whole URL when it is an Explore URL whose panes do not parse (so that the
// check naming them as unprovisioned fails loudly).
func exploreDatasources(link string) []string {
	u, err := url.Parse(strings.ReplaceAll(link, "$$", "$"))
	if err != nil || u.Path != "/explore" {
		return nil
	}
	var panes map[string]struct {
		Datasource string `json:"datasource"`
	}
	if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil || len(panes) == 0 {
		return []string{link}
	}
	var uids []string
	for _, k := range slices.Sorted(maps.Keys(panes)) {
		uids = append(uids, panes[k].Datasource)
	}
	return uids
}

// ReadDatasources parses the provisioning file at path.
func ReadDatasources(path string) ([]ProvisionedDatasource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Datasources []ProvisionedDatasource `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(file.Datasources) == 0 {
		return nil, fmt.Errorf("%s defines no datasources", path)
	}
	return file.Datasources, nil
}
