package reconcile

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/observe"
)

// Metrics are the reconciler's Prometheus metrics.
type Metrics struct {
	passes   prometheus.Counter
	apps     prometheus.Gauge
	duration prometheus.Histogram
	phases   *prometheus.HistogramVec
	writes   *prometheus.CounterVec
	health   *prometheus.CounterVec
	refresh  prometheus.Counter
}

// NewMetrics registers the reconciler's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yarngate_reconcile_passes_total",
			Help: "Completed reconciliations of the registry with YARN (one ResourceManager list call each).",
		}),
		apps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yarngate_reconcile_applications",
			Help: "Applications with the gateway's tag that the last reconciliation saw.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "yarngate_reconcile_duration_seconds",
			Help:    "Time one reconciliation took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9), // 5ms .. ~33s
		}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yarngate_reconcile_phase_duration_seconds",
			Help:    "Time each phase of a reconciliation took: list (ResourceManager), applications, session_jobs, sessions, cluster_jobs, late_archives, full (records YARN did not list, savepoints).",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}, []string{"phase"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_reconcile_writes_total",
			Help: "Records the reconciler wrote (created or changed), by kind; an unchanged observation writes nothing.",
		}, []string{"kind"}),
		refresh: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yarngate_reconcile_jobmanager_refreshes_total",
			Help: "Observations of the refresher: running application jobs and sessions' job lists whose JobManager answer came due, asked between and beside passes.",
		}),
		health: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_health_assessments_total",
			Help: "Changed health assessments of running jobs, by resulting status (healthy, degraded, unhealthy, unknown).",
		}, []string{"status"}),
	}
	for _, c := range []prometheus.Collector{m.passes, m.apps, m.duration, m.phases, m.writes, m.health, m.refresh} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register reconcile metrics: %w", err)
		}
	}
	for _, k := range []observe.Kind{observe.KindJob, observe.KindSession, observe.KindSessionJob} {
		m.writes.WithLabelValues(string(k))
	}
	return m, nil
}

func (m *Metrics) observePass(apps int, elapsed time.Duration) {
	m.passes.Inc()
	m.apps.Set(float64(apps))
	m.duration.Observe(elapsed.Seconds())
}

// phase records how long a phase of a pass took, from began; it returns the end, where the next phase begins.
func (m *Metrics) phase(name string, began, now time.Time) time.Time {
	m.phases.WithLabelValues(name).Observe(now.Sub(began).Seconds())
	return now
}

func (m *Metrics) wrote(kind observe.Kind) { m.writes.WithLabelValues(string(kind)).Inc() }

func (m *Metrics) refreshed() { m.refresh.Inc() }

func (m *Metrics) healthChecked(status string) { m.health.WithLabelValues(status).Inc() }
