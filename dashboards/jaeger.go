package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// JaegerQuery is a query of Grafana's Jaeger datasource: the service
// dependency graph, or a trace search. The SDK has no type for it (it would
// keep it as an untyped map), so the shop declares the fields it uses and
// registers the type as the "jaeger" dataquery variant: strict decoding then
// rejects an unknown field in a Jaeger query as it does in a Prometheus one.
type JaegerQuery struct {
	RefId      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	QueryType  string                `json:"queryType"` // dependencyGraph or search
	Service    string                `json:"service,omitempty"`
	Tags       string                `json:"tags,omitempty"` // search: logfmt key=value pairs
}

func (JaegerQuery) ImplementsDataqueryVariant() {}

func (JaegerQuery) DataqueryType() string { return Jaeger.Type }

func (q JaegerQuery) Validate() error {
	if q.RefId == "" || q.QueryType == "" {
		return errors.New("a Jaeger query needs a refId and a queryType")
	}
	return nil
}

func (q JaegerQuery) Equals(other variants.Dataquery) bool {
	switch o := other.(type) {
	case JaegerQuery:
		return reflect.DeepEqual(q, o)
	case *JaegerQuery:
		return o != nil && reflect.DeepEqual(q, *o)
	}
	return false
}

func jaegerVariant() variants.DataqueryConfig {
	decode := func(raw []byte, strict bool) (variants.Dataquery, error) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if strict {
			dec.DisallowUnknownFields()
		}
		var q JaegerQuery
		if err := dec.Decode(&q); err != nil {
			return nil, err
		}
		if strict {
			if err := q.Validate(); err != nil {
				return nil, err
			}
		}
		return &q, nil
	}
	return variants.DataqueryConfig{
		Identifier:                 Jaeger.Type,
		DataqueryUnmarshaler:       func(raw []byte) (variants.Dataquery, error) { return decode(raw, false) },
		StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) { return decode(raw, true) },
	}
}
