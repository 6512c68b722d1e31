package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the notification sender's Prometheus metrics.
type Metrics struct {
	sent    *prometheus.CounterVec
	failed  *prometheus.CounterVec
	retries *prometheus.CounterVec
	queue   prometheus.Gauge
	latency prometheus.Histogram
}

// NewMetrics registers the sender's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_notify_sent_total",
			Help: "Webhook deliveries a receiver acknowledged (2xx), by event type.",
		}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_notify_failed_total",
			Help: "Webhook deliveries given up after their attempts or maximum age, by event type.",
		}, []string{"type"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_notify_retries_total",
			Help: "Failed webhook calls that will be tried again, by event type.",
		}, []string{"type"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yarngate_notify_queue_depth",
			Help: "Events in the outboxes of all records, not yet delivered (as of the sender's last round).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "yarngate_notify_latency_seconds",
			Help:    "Time from an event to its acknowledged delivery.",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 10), // 50ms .. ~16min
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.retries, m.queue, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register notify metrics: %w", err)
		}
	}
	return m, nil
}
