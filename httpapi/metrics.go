package httpapi

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP layer's Prometheus metrics: requests and their latency by route. Create them once
// with NewMetrics on the registry the process exposes, and pass them in Options.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// longPolls counts long polls waiting; longPollsRefused those refused (429) at a cap.
	longPolls        prometheus.Gauge
	longPollsRefused prometheus.Counter
}

// NewMetrics creates the HTTP metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yarngate_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9), // 5ms .. ~5.5min: uploads are long
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yarngate_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		longPolls: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yarngate_http_long_polls",
			Help: "Long polls (?wait=) waiting.",
		}),
		longPollsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yarngate_http_long_polls_refused_total",
			Help: "Long polls refused (429) because a long-poll cap was reached.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.longPolls, m.longPollsRefused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register HTTP metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observeRequest(method, route string, status int, elapsed time.Duration) {
	s := statusLabel(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.duration.WithLabelValues(method, route, s).Observe(elapsed.Seconds())
}
