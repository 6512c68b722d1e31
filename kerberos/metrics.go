package kerberos

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Login's Prometheus metrics.
type metrics struct {
	expiry    prometheus.Gauge
	exchanges *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// newMetrics creates the metrics and registers them on reg, unless reg is nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yarngate_kerberos_tgt_expiry_timestamp_seconds",
			Help: "When the gateway's Kerberos ticket-granting ticket expires (Unix time); 0 before the first login.",
		}),
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_kerberos_exchanges_total",
			Help: "Exchanges with the KDC for the gateway's ticket, by kind (login from the keytab, renewal) and result.",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yarngate_kerberos_exchange_duration_seconds",
			Help:    "Duration of the exchanges with the KDC for the gateway's ticket, by kind.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.expiry, m.exchanges, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("kerberos metrics: %w", err)
		}
	}
	return m, nil
}
