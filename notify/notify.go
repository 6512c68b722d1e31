// Package notify delivers the events records publish (registry.Record.Publish: state changes, health changes,
// savepoints, upgrade steps) to webhooks: the job's own (its request's notifications) and the configured
// global ones. Events wait in the record's outbox, written in the same registry update as the change they
// tell of, so they survive gateway restarts and leader changes; the Sender, run by app on every instance,
// delivers while its instance leads the reconciliation, at least once, in order per job, signed with
// HMAC-SHA256, retried with exponential backoff, and removes them from the outbox once acknowledged or given
// up. See docs/NOTIFICATIONS.md.
//
// Dependency rule: notify imports registry and the standard library (and Prometheus); only app imports it
// (and hands the job service Sender.CheckWebhook as a function). Only Run starts work, and app calls it.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/yarngate/yarngate/registry"
)

// records is what the sender needs of the registry; *registry.Registry implements it.
type records interface {
	List(keep func(*registry.Summary) bool) []registry.Record
	Update(ctx context.Context, id string, change func(*registry.Record) (bool, error)) (registry.Record, error)
}

// leadership says whether this instance reconciles (and so sends); *zk.Election implements it.
type leadership interface {
	IsLeader() bool
}

// Webhook is a global notification target from the configuration.
type Webhook struct {
	// URL is called with POST.
	URL string
	// Events are the event types sent (empty: all).
	Events []string
	// Secret names the secret (Options.Secrets) calls are signed with.
	Secret string
}

// Options configure a Sender.
type Options struct {
	// Records is the registry. Required.
	Records records
	// Leadership says whether this instance sends; nil means always.
	Leadership leadership
	// Global webhooks receive every record's events.
	Global []Webhook
	// Secrets are the signing secrets by name.
	Secrets map[string]string
	// Policy restricts the URLs called.
	Policy Policy
	// Interval is the period of delivery rounds. Default 1s.
	Interval time.Duration
	// Timeout bounds one call. Default 10s.
	Timeout time.Duration
	// MaxAttempts bounds the failed rounds of one event before it is given up. Default 12.
	MaxAttempts int
	// MaxAge gives up an event older than this. Default 24h.
	MaxAge time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait between attempts. Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger and Metrics are required.
	Logger  *slog.Logger
	Metrics *Metrics
}

func (o *Options) validate() error {
	if o.Records == nil || o.Logger == nil || o.Metrics == nil {
		return errors.New("notify: Records, Logger and Metrics are required")
	}
	for _, w := range o.Global {
		if err := o.Policy.Check(w.URL); err != nil {
			return fmt.Errorf("notify: global webhook: %w", err)
		}
		if _, ok := o.Secrets[w.Secret]; !ok {
			return fmt.Errorf("notify: global webhook %s: secret %q is not configured", w.URL, w.Secret)
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.Interval, time.Second}, {&o.Timeout, 10 * time.Second}, {&o.MaxAge, 24 * time.Hour},
		{&o.MinBackoff, time.Second}, {&o.MaxBackoff, 5 * time.Minute}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Sender delivers the events of records' outboxes; see the package documentation.
type Sender struct {
	opts          Options
	guarded, open *http.Client
}

// New checks the options and builds a Sender; Run runs it.
func New(opts Options) (*Sender, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Sender{opts: opts}
	s.guarded, s.open = opts.Policy.clients(opts.Timeout)
	return s, nil
}

// CheckWebhook validates a job's webhook: its URL by the policy, its secret by name.
func (s *Sender) CheckWebhook(url, secret string) error {
	if err := s.opts.Policy.Check(url); err != nil {
		return err
	}
	if _, ok := s.opts.Secrets[secret]; !ok {
		return fmt.Errorf("%w: secret %q is not configured (notify.secrets)", ErrURLRefused, secret)
	}
	return nil
}

// Run makes a delivery round every interval while this instance leads, until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		if s.opts.Leadership == nil || s.opts.Leadership.IsLeader() {
			s.Round(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Round delivers what is due in every outbox once.
func (s *Sender) Round(ctx context.Context) {
	recs := s.opts.Records.List(func(r *registry.Summary) bool { return r.Outbox > 0 })
	depth := 0
	for _, rec := range recs {
		if ctx.Err() != nil {
			return
		}
		depth += s.deliverRecord(ctx, rec)
	}
	s.opts.Metrics.queue.Set(float64(depth))
}

// target is one webhook an event goes to.
type target struct {
	url, secret string
	events      []string
}

func (t target) wants(eventType string) bool {
	return len(t.events) == 0 || slices.Contains(t.events, eventType)
}

// targets are the webhooks of a record: the global ones, then its own.
func (s *Sender) targets(rec registry.Record) []target {
	var out []target
	for _, w := range s.opts.Global {
		out = append(out, target{url: w.URL, secret: s.opts.Secrets[w.Secret], events: w.Events})
	}
	for _, w := range rec.Webhooks {
		out = append(out, target{url: w.URL, secret: s.opts.Secrets[w.Secret], events: w.Events})
	}
	return out
}

// hiddenState is the state of the hidden record of a failed launch (reconcile.StateLaunchFailed): never told.
const hiddenState = "LAUNCH_FAILED"

// deliverRecord delivers a record's due events in order, stopping at the first that is not fully
// delivered (per-job ordering), and writes the outcome to the record. It returns the events left.
func (s *Sender) deliverRecord(ctx context.Context, rec registry.Record) int {
	now := s.opts.Now()
	targets := s.targets(rec)
	done := map[string]bool{}              // event ids to remove
	changed := map[string]registry.Event{} // event ids whose bookkeeping changed
	for _, e := range rec.Outbox {
		if e.NextAttempt.After(now) {
			break
		}
		var pending []target
		for _, t := range targets {
			if t.wants(e.Type) && !slices.Contains(e.Delivered, t.url) && !(e.Type == registry.EventState && e.State == hiddenState) {
				pending = append(pending, t)
			}
		}
		failed := false
		for _, t := range pending {
			if err := s.post(ctx, rec, e, t); err != nil {
				failed = true
				s.opts.Logger.Warn("webhook delivery failed", "id", rec.ID, "event", e.ID, "type", e.Type, "url", t.url,
					"attempt", e.Attempts+1, "error", err)
				continue
			}
			e.Delivered = append(slices.Clone(e.Delivered), t.url)
			s.opts.Metrics.sent.WithLabelValues(e.Type).Inc()
			s.opts.Metrics.latency.Observe(now.Sub(e.At).Seconds())
		}
		if !failed {
			done[e.ID] = true
			continue
		}
		e.Attempts++
		if e.Attempts >= s.opts.MaxAttempts || now.Sub(e.At) > s.opts.MaxAge {
			s.opts.Metrics.failed.WithLabelValues(e.Type).Inc()
			s.opts.Logger.Error("webhook delivery given up", "id", rec.ID, "event", e.ID, "type", e.Type, "attempts", e.Attempts)
			done[e.ID] = true
			continue
		}
		s.opts.Metrics.retries.WithLabelValues(e.Type).Inc()
		e.NextAttempt = now.Add(s.backoff(e.Attempts)).UTC()
		changed[e.ID] = e
		break
	}
	if len(done) == 0 && len(changed) == 0 {
		return len(rec.Outbox)
	}
	left := len(rec.Outbox)
	_, err := s.opts.Records.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
		out := r.Outbox[:0:0]
		for _, e := range r.Outbox {
			if done[e.ID] {
				continue
			}
			if c, ok := changed[e.ID]; ok {
				e.Attempts, e.NextAttempt, e.Delivered = c.Attempts, c.NextAttempt, c.Delivered
			}
			out = append(out, e)
		}
		r.Outbox, left = out, len(out)
		return true, nil
	})
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		// Delivered events stay in the outbox and are sent again: at least once.
		s.opts.Logger.Warn("could not record webhook deliveries", "id", rec.ID, "error", err)
	}
	return left
}

// backoff is the wait after the n-th failed round: MinBackoff doubled per attempt, at most MaxBackoff.
func (s *Sender) backoff(n int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < n && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxBackoff)
}

// Payload is the JSON body of a webhook call.
type Payload struct {
	ID   string     `json:"id"`
	Type string     `json:"type"`
	Time time.Time  `json:"time"`
	Job  PayloadJob `json:"job"`
	// State and PreviousState: the job's state after and before a state change; for other events its
	// current state.
	State         string `json:"state,omitempty"`
	PreviousState string `json:"previousState,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Health is set for health events.
	Health *PayloadHealth `json:"health,omitempty"`
	// Data carries the fields of savepoint and upgrade events.
	Data map[string]string `json:"data,omitempty"`
	// Attempt counts the calls for this event to this receiver so far, 1 for the first.
	Attempt int `json:"attempt"`
}

// PayloadJob names the job (or session) an event is about.
type PayloadJob struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Name          string `json:"name,omitempty"`
	Owner         string `json:"owner,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
}

// PayloadHealth is a health change.
type PayloadHealth struct {
	Status   string   `json:"status"`
	Previous string   `json:"previous,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
}

// payloadOf renders an event of a record.
func payloadOf(rec registry.Record, e registry.Event) Payload {
	p := Payload{ID: e.ID, Type: e.Type, Time: e.At, State: e.State, PreviousState: e.Previous, Reason: e.Reason, Data: e.Data,
		Job:     PayloadJob{ID: rec.ID, Kind: rec.Kind, Name: rec.Name, Owner: rec.Owner, ApplicationID: rec.ApplicationID},
		Attempt: e.Attempts + 1}
	if p.State == "" {
		p.State = rec.State
	}
	if e.Type == registry.EventHealth {
		p.Health = &PayloadHealth{Status: e.Health, Previous: e.PreviousHealth, Reasons: e.HealthReasons}
	}
	return p
}

// maxAnswer bounds what is read of a receiver's answer.
const maxAnswer = 4 << 10

// post sends one event to one webhook; an answer other than 2xx is a failure.
func (s *Sender) post(ctx context.Context, rec registry.Record, e registry.Event, t target) error {
	body, err := json.Marshal(payloadOf(rec, e))
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	ts := s.opts.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "yarngate-webhook/1")
	req.Header.Set(HeaderEventID, e.ID)
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign([]byte(t.secret), ts, body))
	resp, err := s.client(t.url).Do(req)
	if err != nil {
		return fmt.Errorf("webhook call: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
