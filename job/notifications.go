package job

import (
	"fmt"
	"slices"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// maxWebhooks bounds a job's own webhooks.
const maxWebhooks = 4

// webhooksOf validates a request's notifications and returns them as the record keeps them: the URL by the
// gateway's policy (Options.CheckWebhook), the secret by name only.
func (s *Service) webhooksOf(in []api.Webhook) ([]registry.Webhook, error) {
	if len(in) == 0 {
		return nil, nil
	}
	var e api.SpecError
	if s.opts.CheckWebhook == nil {
		e.Add("notifications", "notifications are not enabled on this gateway")
		return nil, e.OrNil()
	}
	if len(in) > maxWebhooks {
		e.Add("notifications", "at most %d webhooks", maxWebhooks)
		return nil, e.OrNil()
	}
	out := make([]registry.Webhook, 0, len(in))
	for i, w := range in {
		field := fmt.Sprintf("notifications[%d]", i)
		if err := s.opts.CheckWebhook(w.URL, w.Secret); err != nil {
			e.Add(field, "%v", err)
		}
		for _, t := range w.Events {
			if !slices.Contains(registry.EventTypes(), t) {
				e.Add(field+".events", "unknown event type %q (state, health, savepoint, upgrade)", t)
			}
		}
		out = append(out, registry.Webhook{URL: w.URL, Events: slices.Clone(w.Events), Secret: w.Secret})
	}
	if err := e.OrNil(); err != nil {
		return nil, err
	}
	return out, nil
}

// renderWebhooks is the API form of a record's webhooks.
func renderWebhooks(in []registry.Webhook) []api.Webhook {
	var out []api.Webhook
	for _, w := range in {
		out = append(out, api.Webhook{URL: w.URL, Events: slices.Clone(w.Events), Secret: w.Secret})
	}
	return out
}

// webhooksFromSpec is the record form of a request's notifications, validated before (webhooksOf).
func webhooksFromSpec(req api.JobRequest) []registry.Webhook {
	var out []registry.Webhook
	for _, w := range req.Notifications {
		out = append(out, registry.Webhook{URL: w.URL, Events: slices.Clone(w.Events), Secret: w.Secret})
	}
	return out
}

// renderHealth is the API form of a job's health; nil when not assessed.
func renderHealth(h observe.Health) *api.JobHealth {
	if h.Status == "" {
		return nil
	}
	out := &api.JobHealth{Status: h.Status, Reasons: slices.Clone(h.Reasons), Restarts: h.Restarts,
		Checkpointing: h.Checkpointing, AssessedAt: h.CheckedAt}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if !h.LastCheckpoint.IsZero() {
		t := h.LastCheckpoint
		out.LastCheckpointAt = &t
	}
	if h.Backpressure != "" {
		b := h.Backpressure
		out.Backpressure = &b
	}
	return out
}
