package dashboards

import (
	"fmt"
	"maps"
	"os"
	"slices"

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

// LinkedUIDs lists every datasourceUid that d's cross-signal links name
// (exemplars, traces to logs/profiles/metrics, derived fields), at any depth.
func (d ProvisionedDatasource) LinkedUIDs() []string {
	var uids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if uid, ok := v["datasourceUid"].(string); ok {
				uids = append(uids, uid)
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
