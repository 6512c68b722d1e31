package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/registry"
)

// recordRegistry is what RecordedJobs needs of the registry; *registry.Registry implements it.
type recordRegistry interface {
	Get(ctx context.Context, id string) (registry.Record, error)
	Cached(id string) (registry.Record, bool)
	List(keep func(*registry.Record) bool) []registry.Record
	Changed(id string) <-chan struct{}
	Create(ctx context.Context, rec registry.Record) (registry.Record, error)
	Update(ctx context.Context, id string, change func(*registry.Record) (bool, error)) (registry.Record, error)
	Delete(ctx context.Context, rec registry.Record) error
	Claim(ctx context.Context, keyHash string) (registry.KeyClaim, error)
	ClaimKey(ctx context.Context, keyHash string, c registry.KeyClaim) (registry.KeyClaim, bool, error)
	MoveClaim(ctx context.Context, keyHash string, c registry.KeyClaim) (registry.KeyClaim, error)
	ReleaseKey(ctx context.Context, keyHash string) error
}

// leadership says whether this instance is the one that reconciles; *zk.Election implements it.
type leadership interface {
	IsLeader() bool
}

// instanceLister lists the gateway instances that run now; *zk.Election implements it.
type instanceLister interface {
	Members(ctx context.Context) ([]string, error)
}

// RecordedJobsOptions configure RecordedJobs.
type RecordedJobsOptions struct {
	// Jobs launches and describes jobs and sessions from YARN and Flink. Required.
	Jobs *JobService
	// Registry keeps the records. Required.
	Registry recordRegistry
	// Backend names the registry's store for the cluster view ("zookeeper", "embedded").
	Backend string
	// Instance identifies this gateway process among those sharing the registry. Required; unique per
	// process start.
	Instance string
	// Leadership says whether this instance reconciles; nil means always (a single instance).
	Leadership leadership
	// Instances lists the running instances; nil means only this one runs (a single instance).
	Instances instanceLister
	// Interval is the reconciler's period: one ResourceManager list call per interval. Default 1s.
	Interval time.Duration
	// Retention is how long a terminal record is kept after YARN dropped its application. Default 7 days.
	Retention time.Duration
	// LostGrace is how long a record may miss its application before it is LOST. Default 1 minute.
	LostGrace time.Duration
	// GCInterval is the period of the staging garbage collection. Default 5 minutes.
	GCInterval time.Duration
	// Logger is required.
	Logger *slog.Logger
}

// RecordedJobs is the job and session API over the registry: reads come from the records (kept fresh by the
// reconciler, in memory), launches and cancellations are recorded, and idempotency keys are claimed in the
// registry so that every instance sharing it, and every later process, answers a retried request with the
// same job. It implements the API the handlers call. Close stops the reconciler.
type RecordedJobs struct {
	opts RecordedJobsOptions
	jobs *JobService
	reg  recordRegistry
	log  *slog.Logger
	stop context.CancelFunc
	done chan struct{}

	mu         sync.Mutex
	reconciled time.Time            // end of the last complete reconciliation
	unknown    map[string]time.Time // ids YARN did not know either, until when not to ask again
}

// NewRecordedJobs starts the reconciler.
func NewRecordedJobs(opts RecordedJobsOptions) (*RecordedJobs, error) {
	if opts.Jobs == nil || opts.Registry == nil || opts.Instance == "" || opts.Logger == nil {
		return nil, errors.New("recorded jobs: Jobs, Registry, Instance and Logger are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	if opts.LostGrace <= 0 {
		opts.LostGrace = time.Minute
	}
	if opts.GCInterval <= 0 {
		opts.GCInterval = 5 * time.Minute
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &RecordedJobs{opts: opts, jobs: opts.Jobs, reg: opts.Registry, log: opts.Logger, stop: stop, done: make(chan struct{}),
		unknown: map[string]time.Time{}}
	go r.reconcileLoop(ctx)
	return r, nil
}

// Close stops the reconciler and waits for it.
func (r *RecordedJobs) Close() {
	r.stop()
	<-r.done
}

// FlinkVersions lists the configured distributions.
func (r *RecordedJobs) FlinkVersions() []string { return r.jobs.FlinkVersions() }

// RegistryStatus reports the registry for the cluster view.
func (r *RecordedJobs) RegistryStatus() api.ClusterRegistry {
	st := api.ClusterRegistry{Backend: r.opts.Backend, Instance: r.opts.Instance,
		Reconciler: r.opts.Leadership == nil || r.opts.Leadership.IsLeader(), Records: len(r.reg.List(visible))}
	r.mu.Lock()
	if !r.reconciled.IsZero() {
		st.LastReconciled = ptr(r.reconciled.UTC())
	}
	r.mu.Unlock()
	return st
}

// stateLaunchFailed marks the record of a launch that failed: hidden from the API, kept so that the
// reconciler kills the application should YARN have started it after all.
const stateLaunchFailed = "LAUNCH_FAILED"

func visible(rec *registry.Record) bool { return rec.State != stateLaunchFailed && len(rec.View) > 0 }

// keyHash names an idempotency key in the registry; kind keeps job and session keys apart.
func keyHash(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return hex.EncodeToString(sum[:20])
}

// Submit launches a job, or returns the job an earlier request with the same idempotency key launched
// (created=false), whichever gateway instance or process launched it.
func (r *RecordedJobs) Submit(ctx context.Context, req api.JobRequest, idempotencyKey string) (api.Job, bool, error) {
	kind := registry.KindJob
	if req.Target == targetSession {
		kind = registry.KindSessionJob
	}
	var job api.Job
	created, err := r.launchOnce(ctx, kind, idempotencyKey, jobRequestFingerprint(&req), redactedSpec(req),
		func(ctx context.Context) (string, bool, error) {
			var created bool
			var err error
			job, created, err = r.jobs.Submit(ctx, req, idempotencyKey)
			return job.ID, created, err
		},
		func() any { return &job })
	return job, created, err
}

// CreateSession launches a session, or returns the one an earlier request with the same idempotency key
// launched (created=false).
func (r *RecordedJobs) CreateSession(ctx context.Context, req api.SessionRequest, idempotencyKey string) (api.Session, bool, error) {
	var sess api.Session
	created, err := r.launchOnce(ctx, registry.KindSession, idempotencyKey, sessionRequestFingerprint(&req), redactedSpec(req),
		func(ctx context.Context) (string, bool, error) {
			var created bool
			var err error
			sess, created, err = r.jobs.CreateSession(ctx, req, idempotencyKey)
			return sess.ID, created, err
		},
		func() any { return &sess })
	return sess, created, err
}

// launchOnce runs launch at most once per idempotency key across instances and records the result. view
// returns a pointer to the API object launch filled in (or that launchOnce fills from the record of an
// earlier launch).
func (r *RecordedJobs) launchOnce(ctx context.Context, kind, key, fingerprint string, spec json.RawMessage,
	launch func(context.Context) (string, bool, error), view func() any) (bool, error) {
	var hash string
	var claim registry.KeyClaim
	if key != "" {
		hash = keyHash(kind, key)
		var earlier string
		var err error
		claim, earlier, err = r.claimKey(ctx, hash, fingerprint)
		if err != nil {
			return false, err
		}
		if earlier != "" {
			rec, err := r.reg.Get(ctx, earlier)
			if err == nil && visible(&rec) {
				return false, json.Unmarshal(rec.View, view())
			}
			// The claim names a record that is gone or was never written (a crash in between): the
			// launch below finds the application by its tags, or launches again.
			if claim, err = r.retakeClaim(ctx, hash, fingerprint); err != nil {
				return false, err
			}
		}
	}
	id, created, err := launch(ctx)
	if err != nil {
		var le *launchError
		if errors.As(err, &le) {
			r.recordFailedLaunch(context.WithoutCancel(ctx), kind, le.applicationID, err)
		}
		if hash != "" {
			if rerr := r.reg.ReleaseKey(context.WithoutCancel(ctx), hash); rerr != nil {
				r.log.Warn("could not release the idempotency key of a failed launch", "error", rerr)
			}
		}
		return false, err
	}
	v, err := json.Marshal(view())
	if err != nil {
		return false, err
	}
	rec := registry.Record{ID: id, Kind: kind, ApplicationID: applicationOf(id), Owner: r.jobs.opts.User,
		KeyHash: hash, Fingerprint: fingerprint, Spec: spec, View: v}
	state, terminal := viewState(kind, v)
	rec.SetState(state, terminal, time.Now(), "")
	if _, err := r.reg.Create(ctx, rec); errors.Is(err, registry.ErrExists) {
		// Adopted meanwhile (the reconciler, or an earlier process): bring the view up to date.
		_, err = r.reg.Update(ctx, id, func(old *registry.Record) (bool, error) {
			if old.State == stateLaunchFailed {
				// A launch reported as failed had started the application after all, and a retry found
				// it: the job is real now, and the client knows its id.
				old.State, old.Terminal, old.EndedAt = "", false, time.Time{}
				old.KeyHash, old.Fingerprint, old.Spec = hash, fingerprint, spec
			}
			return applyView(old, kind, v), nil
		})
		if err != nil {
			r.log.Warn("could not update the record of a launch", "id", id, "error", err)
		}
	} else if err != nil {
		// Launched but not recorded: the reconciler adopts the application from its tags.
		r.log.Warn("could not record a launch; the reconciler will adopt it", "id", id, "error", err)
	}
	if hash != "" {
		claim.ID, claim.Launcher = id, ""
		if _, err := r.reg.MoveClaim(context.WithoutCancel(ctx), hash, claim); err != nil {
			r.log.Warn("could not point the idempotency key at its job", "id", id, "error", err)
		}
	}
	return created, nil
}

// recordFailedLaunch keeps a hidden record of a launch reported as failed whose application may exist, so
// that the reconciler kills the application if YARN runs it after all.
func (r *RecordedJobs) recordFailedLaunch(ctx context.Context, kind, appID string, cause error) {
	rec := registry.Record{ID: appID, Kind: kind, ApplicationID: appID, Owner: r.jobs.opts.User}
	rec.SetState(stateLaunchFailed, true, time.Now(), cause.Error())
	if _, err := r.reg.Create(ctx, rec); err != nil {
		r.log.Warn("could not record a failed launch", "applicationId", appID, "error", err)
	}
}

// claimWait is how often a request polls a key claimed by a launch under way on another instance.
const claimWait = 200 * time.Millisecond

// claimKey claims an idempotency key for a launch by this instance. It returns the id of the record an
// earlier launch made (earlier), or the claim this instance now holds (a new one, or one taken over from
// an instance that stopped in the middle of a launch). A launch under way elsewhere is waited for.
func (r *RecordedJobs) claimKey(ctx context.Context, hash, fingerprint string) (claim registry.KeyClaim, earlier string, err error) {
	for {
		c, won, err := r.reg.ClaimKey(ctx, hash, registry.KeyClaim{Fingerprint: fingerprint, Launcher: r.opts.Instance})
		switch {
		case err != nil:
			return registry.KeyClaim{}, "", fmt.Errorf("claim idempotency key: %w", err)
		case won:
			return c, "", nil
		case c.Fingerprint != fingerprint:
			return registry.KeyClaim{}, "", fmt.Errorf("%w (job %s)", ErrIdempotencyKeyReused, c.ID)
		case c.ID != "":
			return c, c.ID, nil
		}
		alive, err := r.alive(ctx, c.Launcher)
		if err != nil {
			return registry.KeyClaim{}, "", err
		}
		if !alive {
			c.Launcher = r.opts.Instance
			moved, err := r.reg.MoveClaim(ctx, hash, c)
			if err == nil {
				r.log.InfoContext(ctx, "took over the launch of a stopped instance", "requestId", RequestID(ctx))
				return moved, "", nil
			}
			if !errors.Is(err, registry.ErrConflict) && !errors.Is(err, registry.ErrNotFound) {
				return registry.KeyClaim{}, "", fmt.Errorf("take over idempotency key: %w", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return registry.KeyClaim{}, "", fmt.Errorf("wait for the launch of the same idempotency key: %w", ctx.Err())
		case <-time.After(claimWait):
		}
	}
}

// retakeClaim makes this instance the launcher of a claim whose record is missing.
func (r *RecordedJobs) retakeClaim(ctx context.Context, hash, fingerprint string) (registry.KeyClaim, error) {
	c, err := r.reg.Claim(ctx, hash)
	if err != nil {
		return registry.KeyClaim{}, fmt.Errorf("idempotency key: %w", err)
	}
	c.ID, c.Launcher, c.Fingerprint = "", r.opts.Instance, fingerprint
	if c, err = r.reg.MoveClaim(ctx, hash, c); err != nil {
		return registry.KeyClaim{}, fmt.Errorf("idempotency key: %w", err)
	}
	return c, nil
}

// alive reports whether a gateway instance runs.
func (r *RecordedJobs) alive(ctx context.Context, instance string) (bool, error) {
	if instance == r.opts.Instance {
		return true, nil
	}
	if r.opts.Instances == nil {
		return false, nil
	}
	ids, err := r.opts.Instances.Members(ctx)
	if err != nil {
		return false, fmt.Errorf("list gateway instances: %w", err)
	}
	return slices.Contains(ids, instance), nil
}

// applicationOf returns the YARN application id of a job or session id.
func applicationOf(id string) string {
	if app, _, ok := strings.Cut(id, "."); ok {
		return app
	}
	return id
}

// viewState reads the state of an API object.
func viewState(kind string, view json.RawMessage) (string, bool) {
	var v struct {
		State string `json:"state"`
	}
	json.Unmarshal(view, &v) //nolint:errcheck // our own encoding
	if kind == registry.KindSession {
		return v.State, api.SessionState(v.State).Terminal()
	}
	return v.State, api.JobState(v.State).Terminal()
}

// applyView stores a freshly derived API object in a record; false when nothing changed. A record ends
// once: after it became terminal its state stays, while later details (YARN catching up, a failure found
// in the archive) still come in.
func applyView(rec *registry.Record, kind string, view json.RawMessage) bool {
	if string(rec.View) == string(view) && rec.Kind == kind {
		return false
	}
	state, terminal := viewState(kind, view)
	if rec.Terminal && len(rec.View) > 0 {
		var prev, next map[string]any
		if json.Unmarshal(rec.View, &prev) != nil || json.Unmarshal(view, &next) != nil {
			return false
		}
		next["state"], next["terminal"] = prev["state"], prev["terminal"]
		if reflect.DeepEqual(prev, next) {
			return false
		}
		b, err := json.Marshal(next)
		if err != nil {
			return false
		}
		view = b
	}
	rec.Kind, rec.View = kind, view
	rec.SetState(state, terminal, time.Now(), "")
	return true
}

// secretKey reports whether a Flink configuration key names a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "secret", "token", "credential", "access-key", "accesskey", "keytab"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redactedSpec encodes a request for its record, with secret-looking configuration values replaced.
func redactedSpec(req any) json.RawMessage {
	b, err := json.Marshal(req)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	if cfg, ok := m["flinkConfig"].(map[string]any); ok {
		for k := range cfg {
			if secretKey(k) {
				cfg[k] = "<redacted>"
			}
		}
	}
	if b, err = json.Marshal(m); err != nil {
		return nil
	}
	return b
}

// Job returns a job from its record. A job the registry does not know yet (launched by an older gateway,
// or before its record was written) is read from YARN once and adopted.
func (r *RecordedJobs) Job(ctx context.Context, id string) (api.Job, error) {
	if !ValidJobID(id) {
		return api.Job{}, fmt.Errorf("%w: %q is not a job id", ErrJobNotFound, id)
	}
	rec, err := r.reg.Get(ctx, id)
	switch {
	case err == nil && visible(&rec) && rec.Kind != registry.KindSession:
		var job api.Job
		return job, json.Unmarshal(rec.View, &job)
	case err == nil:
		return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	case !errors.Is(err, registry.ErrNotFound):
		return api.Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	if r.knownUnknown(id) {
		return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	}
	job, err := r.jobs.Job(ctx, id)
	if err != nil {
		r.rememberUnknown(id, err)
		return api.Job{}, err
	}
	kind := registry.KindJob
	if job.Target == targetSession {
		kind = registry.KindSessionJob
	}
	r.adopt(ctx, id, kind, job)
	return job, nil
}

// unknownTTL is how long an id neither the registry nor YARN knows is answered 404 without asking YARN
// again, so that polls of unknown ids cost no ResourceManager calls; maxUnknown bounds that memory.
const (
	unknownTTL = 30 * time.Second
	maxUnknown = 10000
)

// knownUnknown reports whether YARN recently said it does not know id.
func (r *RecordedJobs) knownUnknown(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.unknown[id]
	return ok && time.Now().Before(until)
}

// rememberUnknown notes an id YARN does not know (or not as a yarngate job or session).
func (r *RecordedJobs) rememberUnknown(id string, err error) {
	if !errors.Is(err, ErrJobNotFound) && !errors.Is(err, ErrSessionNotFound) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.unknown) >= maxUnknown {
		clear(r.unknown)
	}
	r.unknown[id] = time.Now().Add(unknownTTL)
}

// adopt records a job or session found in YARN that has no record.
func (r *RecordedJobs) adopt(ctx context.Context, id, kind string, view any) {
	v, err := json.Marshal(view)
	if err != nil {
		return
	}
	rec := registry.Record{ID: id, Kind: kind, ApplicationID: applicationOf(id), Owner: r.jobs.opts.User, View: v}
	state, terminal := viewState(kind, v)
	rec.SetState(state, terminal, time.Now(), "adopted")
	if _, err := r.reg.Create(ctx, rec); err == nil {
		r.log.InfoContext(ctx, "adopted an application without a record", "id", id, "kind", kind, "state", state)
	} else if !errors.Is(err, registry.ErrExists) {
		r.log.Warn("could not adopt an application", "id", id, "error", err)
	}
}

// Wait returns the job once its state has reached target (or passed it, or ended), or after timeout
// (capped by MaxWait). It waits on the record, so that waiting costs no ResourceManager calls.
func (r *RecordedJobs) Wait(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error) {
	return waitRecord(ctx, r, id, min(timeout, r.jobs.opts.MaxWait), r.Job, func(j api.Job) bool { return j.State.Reached(target) })
}

// waitRecord reads until done says so, waking on every change of the record (and once a second in any
// case), or until timeout passes; it answers with the last read.
func waitRecord[T any](ctx context.Context, r *RecordedJobs, id string, timeout time.Duration,
	read func(context.Context, string) (T, error), done func(T) bool) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		changed := r.reg.Changed(id)
		v, err := read(ctx, id)
		if err != nil && ctx.Err() == nil {
			return v, err
		}
		if err == nil && done(v) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return read(context.WithoutCancel(ctx), id)
			}
			return v, nil
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}

// List returns the recorded jobs, newest first, optionally only those in one state.
func (r *RecordedJobs) List(_ context.Context, state api.JobState) ([]api.Job, error) {
	recs := r.reg.List(func(rec *registry.Record) bool {
		return visible(rec) && rec.Kind != registry.KindSession && (state == "" || rec.State == string(state))
	})
	jobs := make([]api.Job, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		var job api.Job
		if err := json.Unmarshal(recs[i].View, &job); err != nil {
			return nil, fmt.Errorf("decode job %s: %w", recs[i].ID, err)
		}
		jobs = append(jobs, job)
	}
	slices.SortStableFunc(jobs, func(a, b api.Job) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return jobs, nil
}

// Cancel cancels a job (see JobService.Cancel) and records the outcome.
func (r *RecordedJobs) Cancel(ctx context.Context, id string, kill bool) (api.Job, error) {
	if _, err := r.Job(ctx, id); err != nil {
		return api.Job{}, err
	}
	job, err := r.jobs.Cancel(ctx, id, kill)
	if err != nil {
		return api.Job{}, err
	}
	kind := registry.KindJob
	if job.Target == targetSession {
		kind = registry.KindSessionJob
	}
	return job, r.record(ctx, id, kind, job)
}

// record stores a freshly derived API object in its record.
func (r *RecordedJobs) record(ctx context.Context, id, kind string, view any) error {
	v, err := json.Marshal(view)
	if err != nil {
		return err
	}
	_, err = r.reg.Update(ctx, id, func(rec *registry.Record) (bool, error) { return applyView(rec, kind, v), nil })
	if errors.Is(err, registry.ErrNotFound) {
		r.adopt(ctx, id, kind, view)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", id, err)
	}
	return nil
}

// Session returns a session from its record; one the registry does not know is read from YARN once and
// adopted.
func (r *RecordedJobs) Session(ctx context.Context, id string) (api.Session, error) {
	rec, err := r.reg.Get(ctx, id)
	switch {
	case err == nil && visible(&rec) && rec.Kind == registry.KindSession:
		var sess api.Session
		return sess, json.Unmarshal(rec.View, &sess)
	case err == nil:
		return api.Session{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	case !errors.Is(err, registry.ErrNotFound):
		return api.Session{}, fmt.Errorf("read session %s: %w", id, err)
	}
	if r.knownUnknown(id) {
		return api.Session{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	}
	sess, err := r.jobs.Session(ctx, id)
	if err != nil {
		r.rememberUnknown(id, err)
		return api.Session{}, err
	}
	r.adopt(ctx, id, registry.KindSession, sess)
	return sess, nil
}

// WaitSession returns the session once its state has reached target (or passed it, or ended), or after
// timeout (capped by MaxWait).
func (r *RecordedJobs) WaitSession(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error) {
	return waitRecord(ctx, r, id, min(timeout, r.jobs.opts.MaxWait), r.Session,
		func(s api.Session) bool { return s.State.Reached(target) })
}

// ListSessions returns the recorded sessions, newest first.
func (r *RecordedJobs) ListSessions(context.Context) ([]api.Session, error) {
	recs := r.reg.List(func(rec *registry.Record) bool { return visible(rec) && rec.Kind == registry.KindSession })
	out := make([]api.Session, 0, len(recs))
	for _, rec := range recs {
		var sess api.Session
		if err := json.Unmarshal(rec.View, &sess); err != nil {
			return nil, fmt.Errorf("decode session %s: %w", rec.ID, err)
		}
		out = append(out, sess)
	}
	slices.SortStableFunc(out, func(a, b api.Session) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// StopSession stops a session (see JobService.StopSession) and records it STOPPING, so that every
// instance reports it so until it has ended.
func (r *RecordedJobs) StopSession(ctx context.Context, id string) (api.Session, error) {
	if _, err := r.Session(ctx, id); err != nil {
		return api.Session{}, err
	}
	sess, err := r.jobs.StopSession(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	return sess, r.record(ctx, id, registry.KindSession, sess)
}
