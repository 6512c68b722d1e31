package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/notify"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/reconcile"
)

// newNotifier builds the webhook sender from notify.*: it delivers the registry's outboxes while this
// instance leads the reconciliation (the election of a ZooKeeper registry; always with the embedded one).
func newNotifier(cfg config.Config, recs *records, reg prometheus.Registerer, logger *slog.Logger) (*notify.Sender, error) {
	m, err := notify.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	opts := notify.Options{Records: recs.reg, Secrets: map[string]string{},
		Policy:      notify.Policy{AllowHosts: cfg.Notify.AllowHosts},
		MaxAttempts: cfg.Notify.MaxAttempts, MaxAge: cfg.Notify.MaxAge, Timeout: cfg.Notify.Timeout,
		MinBackoff: cfg.Notify.MinBackoff, MaxBackoff: cfg.Notify.MaxBackoff,
		Logger: logger, Metrics: m}
	if recs.election != nil {
		opts.Leadership = recs.election
	}
	for name, s := range cfg.Notify.Secrets {
		opts.Secrets[name] = s.Reveal()
	}
	for _, w := range cfg.Notify.Webhooks {
		opts.Global = append(opts.Global, notify.Webhook{URL: w.URL, Events: w.Events, Secret: w.Secret})
	}
	return notify.New(opts)
}

// healthOptions sets the reconciler's health checks from health.*.
func healthOptions(cfg config.Config, opts reconcile.Options) reconcile.Options {
	opts.HealthInterval = cfg.Health.Interval
	if opts.HealthInterval == 0 {
		opts.HealthInterval = -1 // 0 in the configuration disables them
	}
	opts.HealthThresholds = observe.HealthThresholds{RestartWindow: cfg.Health.RestartWindow, MaxRestarts: cfg.Health.MaxRestarts,
		CheckpointAge: cfg.Health.CheckpointAge, Backpressure: cfg.Health.Backpressure}
	return opts
}
