package telemetry

import (
	"context"
	"runtime/metrics"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// startProcessMetrics adds what the runtime instrumentation leaves out and the
// fault drills alert on, as OTLP metrics of the process (so they carry
// service.name, unlike the scraped process_* metrics):
//
//	process.cpu.time      CPU seconds by cpu.mode (semantic conventions), from getrusage
//	process.uptime        seconds since the process started (semantic conventions)
//	shop.runtime.mutex_wait  seconds goroutines spent blocked on sync.Mutex and RWMutex
//	                      (runtime/metrics /sync/mutex/wait/total:seconds)
func startProcessMetrics(meter metric.Meter) error {
	user := metric.WithAttributeSet(attribute.NewSet(attribute.String("cpu.mode", "user")))
	system := metric.WithAttributeSet(attribute.NewSet(attribute.String("cpu.mode", "system")))
	_, err := meter.Float64ObservableCounter("process.cpu.time", metric.WithUnit("s"),
		metric.WithDescription("Total CPU seconds of the process, by mode."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				return err
			}
			o.Observe(seconds(ru.Utime), user)
			o.Observe(seconds(ru.Stime), system)
			return nil
		}))
	if err != nil {
		return err
	}
	started := time.Now()
	_, err = meter.Float64ObservableGauge("process.uptime", metric.WithUnit("s"),
		metric.WithDescription("The time the process has been running."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(time.Since(started).Seconds())
			return nil
		}))
	if err != nil {
		return err
	}
	sample := []metrics.Sample{{Name: "/sync/mutex/wait/total:seconds"}}
	_, err = meter.Float64ObservableCounter("shop.runtime.mutex_wait", metric.WithUnit("s"),
		metric.WithDescription("Seconds goroutines spent blocked on a sync.Mutex or RWMutex (runtime/metrics /sync/mutex/wait/total:seconds)."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindFloat64 {
				o.Observe(sample[0].Value.Float64())
			}
			return nil
		}))
	return err
}

func seconds(tv syscall.Timeval) float64 {
	return (time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond).Seconds()
}
