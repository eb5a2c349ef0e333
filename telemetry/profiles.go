package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	otelpyroscope "github.com/grafana/otel-profiling-go"
	"github.com/grafana/pyroscope-go"
	"go.opentelemetry.io/otel/trace"
)

// Profiling rates: one in five mutex contention events and blocking events of 10µs or
// more are sampled, so the mutex and block profiles show real contention without
// measurable cost.
const (
	mutexProfileFraction = 5
	blockProfileRateNs   = 10_000
)

// startProfiler runs pyroscope-go for the whole process: CPU, allocations, in-use
// memory, goroutines, mutex and block profiles, tagged like the resource.
func startProfiler(cfg Config, logger *slog.Logger) (func(context.Context) error, error) {
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	runtime.SetBlockProfileRate(blockProfileRateNs)
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: cfg.ServiceName,
		ServerAddress:   cfg.PyroscopeAddress,
		UploadRate:      cfg.ProfileUploadRate,
		Logger:          pyroscopeLogger{logger},
		Tags: map[string]string{
			"service_namespace":           Namespace,
			"service_version":             cfg.ServiceVersion,
			"deployment_environment_name": cfg.Environment,
		},
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects,
			pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects,
			pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount,
			pyroscope.ProfileMutexDuration,
			pyroscope.ProfileBlockCount,
			pyroscope.ProfileBlockDuration,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start pyroscope profiler: %w", err)
	}
	return func(context.Context) error { return p.Stop() }, nil
}

// wrapForProfiles makes local root spans carry pyroscope.profile.id and labels the CPU
// samples taken while a span runs with its span id, linking traces and flame graphs.
func wrapForProfiles(tp trace.TracerProvider) trace.TracerProvider {
	return otelpyroscope.NewTracerProvider(tp)
}

// pyroscopeLogger routes the profiler's own complaints (an unreachable server, mostly)
// into the service log at debug level, so a missing Pyroscope does not flood stdout.
type pyroscopeLogger struct{ l *slog.Logger }

func (p pyroscopeLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pyroscope")
}
func (p pyroscopeLogger) Debugf(format string, args ...any) {}
func (p pyroscopeLogger) Errorf(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pyroscope")
}
