package app

import (
	"log/slog"
	"slices"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/dashboard"
	"github.com/yarngate/yarngate/httpapi"
)

// newDashboard builds the web UI over the services the HTTP API serves (nil ones make its pages say they are
// not configured), with the sign-in the configured authentication methods allow.
func newDashboard(cfg config.Config, gw httpapi.Options, logger *slog.Logger) (*dashboard.Dashboard, error) {
	opts := dashboard.Options{
		Cluster: gw.Cluster, Classify: httpapi.Classify, Logger: logger.With("log", "dashboard"),
		TokenLogin: slices.Contains(cfg.Auth.Methods, config.AuthToken),
		Kerberos:   slices.Contains(cfg.Auth.Methods, config.AuthKerberos),
	}
	// Typed nils would pass for services: set only those the gateway runs.
	if gw.Jobs != nil {
		opts.Jobs = gw.Jobs
	}
	if gw.Sessions != nil {
		opts.Sessions = gw.Sessions
	}
	return dashboard.New(opts)
}
