package job

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Upload outcomes, the values of the outcome label of yarngate_jar_uploads_total.
const (
	outcomeCreated  = "created"
	outcomeExisted  = "existed"
	outcomeInvalid  = "invalid"
	outcomeTooLarge = "too_large"
	outcomeFailed   = "failed"
)

// Metrics are the services' Prometheus metrics (uploads, submissions, reconciliation; the HTTP metrics are
// httpapi's). Create them once with NewMetrics on the registry the process exposes, and pass them to the
// services.
type Metrics struct {
	uploads     *prometheus.CounterVec
	stagedBytes prometheus.Counter
	submissions *prometheus.CounterVec
	submitTime  prometheus.Histogram
}

// NewMetrics creates the gateway metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_jar_uploads_total",
			Help: "Jar uploads by outcome: created, existed, invalid, too_large, failed.",
		}, []string{"outcome"}),
		stagedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yarngate_jar_staged_bytes_total",
			Help: "Bytes of jars newly staged in HDFS.",
		}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yarngate_job_submissions_total",
			Help: "Job submissions by outcome: launched, replayed (idempotent retry), rejected (4xx), failed.",
		}, []string{"outcome"}),
		submitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "yarngate_job_submission_duration_seconds",
			Help:    "Time from a job request to YARN accepting the application.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 10), // 50ms .. ~25s (a first launch uploads Flink)
		}),
	}
	for _, c := range []prometheus.Collector{m.uploads, m.stagedBytes,
		m.submissions, m.submitTime} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
	}
	for _, o := range []string{outcomeCreated, outcomeExisted, outcomeInvalid, outcomeTooLarge, outcomeFailed} {
		m.uploads.WithLabelValues(o) // export every outcome from the start, at 0
	}
	for _, o := range []string{submitLaunched, submitReplayed, submitRejected, submitFailed} {
		m.submissions.WithLabelValues(o)
	}
	return m, nil
}

// Submission outcomes, the values of the outcome label of yarngate_job_submissions_total.
const (
	submitLaunched = "launched"
	submitReplayed = "replayed"
	submitRejected = "rejected"
	submitFailed   = "failed"
)

// observeSubmission counts a job submission by outcome and times launches.
func (m *Metrics) observeSubmission(err error, created bool, elapsed time.Duration) {
	switch {
	case err == nil && created:
		m.submissions.WithLabelValues(submitLaunched).Inc()
		m.submitTime.Observe(elapsed.Seconds())
	case err == nil:
		m.submissions.WithLabelValues(submitReplayed).Inc()
	case ClientFault(err):
		m.submissions.WithLabelValues(submitRejected).Inc()
	default:
		m.submissions.WithLabelValues(submitFailed).Inc()
	}
}
