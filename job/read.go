package job

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/registry"
)

// Job returns a job from its record. Reads cost no cluster call and change nothing: the reconciler keeps
// records true (and adopts applications launched without one).
func (s *Service) Job(ctx context.Context, id string) (api.Job, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	return s.renderJob(rec), nil
}

// jobRecord reads the record of a job (application or session job).
func (s *Service) jobRecord(ctx context.Context, id string) (registry.Record, error) {
	if !ident.ValidJobID(id) {
		return registry.Record{}, fmt.Errorf("%w: %q is not a job id", ErrJobNotFound, id)
	}
	rec, err := s.opts.Registry.Get(ctx, id)
	if errors.Is(err, registry.ErrNotFound) { // an application of a job upgraded since
		if r, ok := s.opts.Registry.ByApplication(id); ok {
			rec, err = r, nil
		}
	}
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	case err != nil:
		return registry.Record{}, fmt.Errorf("read job %s: %w", id, err)
	case !visible(&rec) || !isJob(rec.Kind) || !s.mayJob(s.caller(ctx), &rec, accessView):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	}
	return rec, nil
}

// sessionRecord reads the record of a session.
func (s *Service) sessionRecord(ctx context.Context, id string) (registry.Record, error) {
	if !ident.ValidApplicationID(id) {
		return registry.Record{}, fmt.Errorf("%w: %q is not a session id", ErrSessionNotFound, id)
	}
	rec, err := s.opts.Registry.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	case err != nil:
		return registry.Record{}, fmt.Errorf("read session %s: %w", id, err)
	case !visible(&rec) || rec.Kind != registry.KindSession || !s.may(s.caller(ctx), &rec, accessView):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	}
	return rec, nil
}

// Wait returns the job once its state has reached target (or passed it, or ended), or after timeout (capped
// by MaxWait). It waits on the record, so that waiting costs no cluster call.
func (s *Service) Wait(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error) {
	return waitRecord(ctx, s, id, min(timeout, s.opts.MaxWait), s.Job, func(j api.Job) bool { return j.State.Reached(target) })
}

// Session returns a session from its record.
func (s *Service) Session(ctx context.Context, id string) (api.Session, error) {
	rec, err := s.sessionRecord(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	return s.renderSession(rec), nil
}

// WaitSession returns the session once its state has reached target (or passed it, or ended), or after
// timeout (capped by MaxWait).
func (s *Service) WaitSession(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error) {
	return waitRecord(ctx, s, id, min(timeout, s.opts.MaxWait), s.Session, func(x api.Session) bool { return x.State.Reached(target) })
}

// waitRecord reads until done says so, waking on every change of the record (and once a second in any
// case), or until timeout passes; it answers with the last read. An id that does not exist answers at once.
func waitRecord[T any](ctx context.Context, s *Service, id string, timeout time.Duration,
	read func(context.Context, string) (T, error), done func(T) bool) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// An id that does not exist (or that the caller may not see) answers before a waiter is registered:
	// Changed keeps a channel per id until the record changes, which one that does not exist never does.
	if v, err := read(ctx, id); err != nil || done(v) {
		return v, err
	}
	for {
		changed := s.opts.Registry.Changed(id)
		v, err := read(ctx, id)
		if err != nil || done(v) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, nil
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}

// Page selects one page of a list: at most Limit items (DefaultPageLimit when 0, MaxPageLimit at most)
// after the item Cursor names (a NextCursor of the page before; "" for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Page limits of the lists.
const (
	// DefaultPageLimit is the size of a page when the caller names none.
	DefaultPageLimit = 100
	// MaxPageLimit is the largest page a caller may ask for; larger limits are reduced to it.
	MaxPageLimit = 1000
)

// ErrInvalidCursor: a page cursor is not one this gateway handed out.
var ErrInvalidCursor = errors.New("invalid page cursor")

// limit is the page's limit within [1, MaxPageLimit].
func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// pageKey is the position of a record in the order of the lists: newest first (creation time, then id,
// both descending). It is what a cursor encodes, so that a page is stable while records come and go.
type pageKey struct {
	created int64 // Unix nanoseconds
	id      string
}

func keyOf(rec *registry.Record) pageKey { return pageKey{rec.CreatedAt.UnixNano(), rec.ID} }

// encodeCursor makes the opaque cursor naming the last item of a page.
func encodeCursor(k pageKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.created, 10) + "/" + k.id))
}

// decodeCursor reads a cursor of encodeCursor.
func decodeCursor(c string) (pageKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return pageKey{}, fmt.Errorf("%w: not base64url", ErrInvalidCursor)
	}
	ts, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !ident.ValidJobID(id) {
		return pageKey{}, ErrInvalidCursor
	}
	return pageKey{n, id}, nil
}

// page selects one page of records whose summary keep accepts and the caller may see (may, called outside
// the registry's lock): newest first, after the page's cursor. next is the cursor of the page after, "" at
// the end. The registry's creation-time index is walked from the cursor, a batch of matching ids at a time
// under its lock; keep and may are decided on summaries, and only the records of the page are decoded, so
// that a page costs what it shows (and the summaries it passes over), not the table — also for a caller
// who may see few of the records.
func (s *Service) page(p Page, keep, may func(*registry.Summary) bool) (recs []registry.Record, next string, err error) {
	var at pageKey
	if p.Cursor != "" {
		if at, err = decodeCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	limit := p.limit()
	for {
		batch := limit + 1 - len(recs)
		ids := make([]string, 0, batch)
		var last pageKey
		s.opts.Registry.Newest(time.Unix(0, at.created), at.id, func(sum *registry.Summary) bool {
			last = pageKey{sum.CreatedAt.UnixNano(), sum.ID}
			if keep(sum) {
				ids = append(ids, sum.ID)
			}
			return len(ids) < batch
		})
		for _, id := range ids {
			if sum, ok := s.opts.Registry.Lookup(id); !ok || !may(&sum) {
				continue // gone since, or not the caller's
			}
			rec, ok := s.opts.Registry.Cached(id)
			if !ok {
				continue // gone since
			}
			if sum := registry.SummaryOf(&rec); !keep(&sum) || !may(&sum) {
				continue // changed since
			}
			if len(recs) == limit {
				return recs, encodeCursor(keyOf(&recs[limit-1])), nil
			}
			recs = append(recs, rec)
		}
		if len(ids) < batch {
			return recs, "", nil // the index ended
		}
		at = last
	}
}

// List returns one page of the jobs the caller may see, newest first, optionally only those in one
// state.
func (s *Service) List(ctx context.Context, state api.JobState, p Page) (api.JobList, error) {
	caller := s.caller(ctx)
	recs, next, err := s.page(p, func(rec *registry.Summary) bool {
		return visibleSummary(rec) && isJob(rec.Kind) && (state == "" || rec.State == string(state))
	}, func(rec *registry.Summary) bool { return s.mayJobSummary(caller, rec, accessView) }) // a session job's access reads its session's record
	if err != nil {
		return api.JobList{}, err
	}
	out := api.JobList{Jobs: make([]api.Job, 0, len(recs)), NextCursor: next}
	for _, rec := range recs {
		out.Jobs = append(out.Jobs, s.renderJob(rec))
	}
	return out, nil
}

// ListSessions returns one page of the sessions the caller may see, newest first.
func (s *Service) ListSessions(ctx context.Context, p Page) (api.SessionList, error) {
	caller := s.caller(ctx)
	recs, next, err := s.page(p, func(rec *registry.Summary) bool { return visibleSummary(rec) && rec.Kind == registry.KindSession },
		func(rec *registry.Summary) bool { return s.mayOwned(caller, rec.Owner, rec.ACL, accessView) })
	if err != nil {
		return api.SessionList{}, err
	}
	out := api.SessionList{Sessions: make([]api.Session, 0, len(recs)), NextCursor: next}
	for _, rec := range recs {
		out.Sessions = append(out.Sessions, s.renderSession(rec))
	}
	return out, nil
}

// rmBase is the active ResourceManager's web address, for links.
func (s *Service) rmBase() string {
	rm, _ := s.opts.RM.ActiveRM()
	return strings.TrimRight(rm.URL, "/")
}

// renderJob is the API object of a job record.
func (s *Service) renderJob(rec registry.Record) api.Job {
	st := rec.Status
	appID := rec.ApplicationID
	job := api.Job{
		ID: rec.ID, Name: rec.Name, Target: rec.Target, State: api.JobState(rec.State), Terminal: rec.Terminal,
		YARN: api.JobYARN{ApplicationID: appID, State: st.YARN.State, FinalStatus: st.YARN.FinalStatus,
			Diagnostics: st.YARN.Diagnostics, Queue: st.YARN.Queue, User: st.YARN.User},
		Flink: api.JobFlink{JobID: st.Flink.JobID, Version: st.Flink.Version, State: optional(st.Flink.State),
			Failure: optional(st.Flink.Failure), Jobs: make([]api.FlinkJob, 0, len(st.Flink.Jobs))},
		Owner: rec.Owner, SubmittedBy: rec.SubmittedBy, ACL: renderACL(rec.ACL), CreatedAt: rec.CreatedAt, UpdatedAt: st.Since,
		History: renderHistory(rec.History),
	}
	if job.Target == "" {
		job.Target = targetApplication
		if rec.Kind == registry.KindSessionJob {
			job.Target = targetSession
		}
	}
	if rec.Kind == registry.KindClusterJob {
		return s.renderClusterJob(rec, job)
	}
	creds := rec.Credentials
	if rec.Kind == registry.KindSessionJob {
		if sess, ok := s.opts.Registry.Lookup(rec.ApplicationID); ok {
			creds = sess.Credentials // a session job runs on its session's credentials
		}
	}
	job.Credentials = renderCredentials(creds)
	job.Upgrade, job.Runs = renderUpgrade(rec)
	job.AutoRestart = s.renderAutoRestart(rec)
	job.Health = renderHealth(st.Health)
	job.Notifications = renderWebhooks(rec.Webhooks)
	for _, j := range st.Flink.Jobs {
		job.Flink.Jobs = append(job.Flink.Jobs, api.FlinkJob{ID: j.ID, Name: j.Name, State: j.State})
	}
	if job.Flink.JobID == "" && len(st.Flink.Jobs) > 0 {
		job.Flink.JobID = st.Flink.Jobs[0].ID
	}
	base := s.rmBase()
	job.Links.YARN = base + "/cluster/app/" + appID
	if st.JobManager != "" && !rec.Terminal {
		ui := base + "/proxy/" + appID + "/"
		if rec.Kind == registry.KindSessionJob {
			route := "running"
			if st.Flink.State == "FINISHED" || st.Flink.State == "FAILED" || st.Flink.State == "CANCELED" {
				route = "completed"
			}
			ui += "#/job/" + route + "/" + st.Flink.JobID + "/overview"
		}
		job.Links.FlinkUI, job.Links.JobManager = &ui, ptr(st.JobManager)
	}
	return job
}

// renderSession is the API object of a session record.
func (s *Service) renderSession(rec registry.Record) api.Session {
	st := rec.Status
	sess := api.Session{ID: rec.ID, Name: rec.Name, State: api.SessionState(rec.State), FlinkVersion: st.Flink.Version,
		YARN: api.JobYARN{ApplicationID: rec.ApplicationID, State: st.YARN.State, FinalStatus: st.YARN.FinalStatus,
			Diagnostics: st.YARN.Diagnostics, Queue: st.YARN.Queue, User: st.YARN.User},
		Owner: rec.Owner, SubmittedBy: rec.SubmittedBy, ACL: renderACL(rec.ACL), CreatedAt: rec.CreatedAt, UpdatedAt: st.Since,
		Credentials: renderCredentials(rec.Credentials), History: renderHistory(rec.History)}
	base := s.rmBase()
	sess.Links.YARN = base + "/cluster/app/" + rec.ApplicationID
	if st.JobManager != "" && (sess.State == api.SessionRunning || sess.State == api.SessionStopping) {
		sess.Links.FlinkUI, sess.Links.JobManager = ptr(base+"/proxy/"+rec.ApplicationID+"/"), ptr(st.JobManager)
	}
	return sess
}

// renderHistory is the API form of a record's history, never nil.
func renderHistory(h []registry.Transition) []api.StateChange {
	out := make([]api.StateChange, 0, len(h))
	for _, t := range h {
		out = append(out, api.StateChange{State: t.State, At: t.At, Reason: t.Reason})
	}
	return out
}

// renderCredentials is the API form of a record's credentials; nil without.
func renderCredentials(c *registry.Credentials) *api.Credentials {
	if c == nil {
		return nil
	}
	out := &api.Credentials{HDFSTokenExpiresAt: c.HDFSTokenExpires, KeytabPrincipal: optional(c.KeytabPrincipal)}
	if c.KeytabPrincipal == "" {
		out.HDFSAccessUntil = &out.HDFSTokenExpiresAt
	}
	return out
}

// optional is nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ValidJobID reports whether id has the form of a job id (an application id, or a session job id).
func ValidJobID(id string) bool { return ident.ValidJobID(id) }

// ValidSessionID reports whether id has the form of a session id (an application id).
func ValidSessionID(id string) bool { return ident.ValidApplicationID(id) }
