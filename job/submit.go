package job

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/redact"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// Submit launches a job, or returns the job an earlier request with the same idempotency key launched
// (created=false), whichever gateway instance or process launched it. The same key with another request is
// ErrIdempotencyKeyReused. Once YARN gave the launch an application id, it runs to its end (or undoes
// itself) whatever becomes of ctx.
func (s *Service) Submit(ctx context.Context, req api.JobRequest, key string) (job api.Job, created bool, err error) {
	start := time.Now()
	defer func() { s.opts.Metrics.observeSubmission(err, created, time.Since(start)) }()
	cfg, err := normalizeJobRequest(&req)
	if err != nil {
		return api.Job{}, false, err
	}
	if req.AutoRestart != nil && !s.opts.AutoRestart {
		return api.Job{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "autoRestart",
			Reason: "automatic restarts are off on this gateway (health.autoRestart)"}}}
	}
	acl, err := aclFrom(req.ACL)
	if err != nil {
		return api.Job{}, false, err
	}
	hooks, err := s.webhooksOf(req.Notifications)
	if err != nil {
		return api.Job{}, false, err
	}
	a, err := s.actFor(ctx, req.ProxyUser)
	if err != nil {
		return api.Job{}, false, err
	}
	// The jar is the caller's to use (a service acting for a user runs the jars it staged).
	if req.JarID != "" && s.opts.Jars != nil {
		if ok, err := s.opts.Jars.mayUse(ctx, req.JarID); err != nil {
			return api.Job{}, false, fmt.Errorf("owners of jar %s: %w", req.JarID, err)
		} else if !ok {
			return api.Job{}, false, fmt.Errorf("%w: %s", ErrJarNotFound, req.JarID)
		}
	}
	key = scopedKey(a.caller, key)
	fp := jobRequestFingerprint(&req)
	var rec registry.Record
	if req.Target == targetSession {
		rec, created, err = s.submitToSession(ctx, req, key, fp, acl, a)
	} else if req.Target == targetCluster {
		rec, created, err = s.submitToCluster(ctx, req, key, fp, acl, a)
	} else {
		spec := launch.Spec{Kind: launch.Job, Name: req.Name, Target: req.Target, JarID: req.JarID, JarPath: req.JarPath,
			EntryClass: req.EntryClass, Args: req.Args, MultipleJobs: req.MultipleJobs, Queue: req.Queue,
			FlinkVersion: req.FlinkVersion, FlinkConfig: cfg, Savepoint: savepointOf(req.Savepoint), User: a.runAs}
		if req.Parallelism != nil {
			spec.Parallelism = *req.Parallelism
		}
		sizeOf(&spec, req.JobManager, req.TaskManager)
		if req.KeytabID != "" {
			if spec.Keytab, err = s.opts.Keytabs.forLaunch(ctx, req.KeytabID, a.clusterUser(s.opts.User)); err != nil {
				return api.Job{}, false, err
			}
		}
		tmpl := registry.Record{Kind: registry.KindJob, Name: req.Name, Target: req.Target, Spec: redactedSpec(req),
			Owner: a.owner, SubmittedBy: a.caller.Name, ACL: acl, Webhooks: hooks, AutoRestart: autoRestartOf(req.AutoRestart)}
		rec, created, err = s.launchOnce(ctx, key, fp, spec, tmpl)
	}
	if err != nil {
		return api.Job{}, false, err
	}
	return s.renderJob(rec), created, nil
}

// CreateSession launches a session cluster, or returns the one an earlier request with the same
// idempotency key launched (created=false).
func (s *Service) CreateSession(ctx context.Context, req api.SessionRequest, key string) (api.Session, bool, error) {
	cfg, err := normalizeSessionRequest(&req)
	if err != nil {
		return api.Session{}, false, err
	}
	acl, err := aclFrom(req.ACL)
	if err != nil {
		return api.Session{}, false, err
	}
	a, err := s.actFor(ctx, req.ProxyUser)
	if err != nil {
		return api.Session{}, false, err
	}
	key = scopedKey(a.caller, key)
	spec := launch.Spec{Kind: launch.Session, Name: req.Name, Queue: req.Queue, FlinkVersion: req.FlinkVersion, FlinkConfig: cfg, User: a.runAs}
	sizeOf(&spec, req.JobManager, req.TaskManager)
	if req.KeytabID != "" {
		if spec.Keytab, err = s.opts.Keytabs.forLaunch(ctx, req.KeytabID, a.clusterUser(s.opts.User)); err != nil {
			return api.Session{}, false, err
		}
	}
	tmpl := registry.Record{Kind: registry.KindSession, Name: req.Name, Spec: redactedSpec(req), Owner: a.owner, SubmittedBy: a.caller.Name, ACL: acl}
	rec, created, err := s.launchOnce(ctx, key, sessionRequestFingerprint(&req), spec, tmpl)
	if err != nil {
		return api.Session{}, false, err
	}
	return s.renderSession(rec), created, nil
}

func sizeOf(spec *launch.Spec, jm *api.JobManagerSpec, tm *api.TaskManagerSpec) {
	if jm != nil {
		spec.JobManagerMemory = jm.Memory
	}
	if tm != nil {
		spec.TaskManagerMemory = tm.Memory
		if tm.Slots != nil {
			spec.TaskManagerSlots = *tm.Slots
		}
	}
}

func savepointOf(sp *api.SavepointSpec) *flink.Savepoint {
	if sp == nil {
		return nil
	}
	return &flink.Savepoint{Path: sp.Path, AllowNonRestoredState: sp.AllowNonRestoredState, ClaimMode: string(sp.ClaimMode)}
}

// launchOnce launches an application at most once per idempotency key and records it. The registry's key
// claim decides: a key already launched answers with its record; a launch under way on a live instance is
// waited for; one whose launcher stopped is taken over, and the application tagged with the key (if the
// stopped launcher got that far) is found in YARN instead of launched again.
func (s *Service) launchOnce(ctx context.Context, key, fp string, spec launch.Spec, tmpl registry.Record) (registry.Record, bool, error) {
	var cl *keyClaim
	if key != "" {
		var earlier *registry.Record
		var err error
		if cl, earlier, err = s.claim(ctx, tmpl.Kind, key, fp); err != nil {
			return registry.Record{}, false, err
		}
		if earlier != nil {
			return *earlier, false, nil
		}
		tagKind := ""
		if spec.Kind == launch.Session {
			tagKind = "session"
		}
		idem, specTag := ident.IdempotencyTags(s.opts.IdempotencySecret, tagKind, key, fp)
		if cl.recovering {
			app, err := s.opts.Launcher.FindByTags(ctx, idem, specTag, spec.Kind)
			if errors.Is(err, launch.ErrSpecMismatch) {
				err = fmt.Errorf("%w: %w", ErrIdempotencyKeyReused, err)
			}
			if err != nil {
				return registry.Record{}, false, err
			}
			if app != nil {
				rec, err := s.recordFound(ctx, tmpl, app, cl)
				return rec, false, err
			}
		}
		spec.Tags = []string{idem, specTag}
	}
	fail := func(err error) (registry.Record, bool, error) {
		s.release(ctx, cl)
		return registry.Record{}, false, err
	}
	p, err := s.opts.Launcher.Prepare(ctx, spec)
	if err != nil {
		return fail(err)
	}
	na, err := s.opts.Launcher.NewApplication(ctx, p)
	if err != nil {
		return fail(err)
	}
	rec, err := detached(ctx, s, func(lctx context.Context) (registry.Record, error) {
		return s.complete(lctx, tmpl, p, na, cl)
	})
	return rec, err == nil, err
}

// complete submits a prepared launch under its application id and records it; it runs on the launch's own
// context (see detached).
func (s *Service) complete(ctx context.Context, tmpl registry.Record, p *launch.Prepared, na *yarnclient.NewApplication, cl *keyClaim) (registry.Record, error) {
	l, err := s.opts.Launcher.Submit(ctx, p, na)
	if err != nil {
		var se *launch.SubmitError
		if errors.As(err, &se) {
			s.recordFailedLaunch(ctx, tmpl.Kind, se.ApplicationID, err)
		}
		s.release(ctx, cl)
		return registry.Record{}, err
	}
	rec := tmpl
	rec.ID, rec.ApplicationID = l.ApplicationID, l.ApplicationID
	if rec.Owner == "" {
		rec.Owner = s.opts.User
	}
	if cl != nil {
		rec.KeyHash, rec.Fingerprint = cl.hash, cl.fp
	}
	if c := l.Credentials; c != nil {
		rec.Credentials = &registry.Credentials{HDFSTokenExpires: c.HDFSTokenExpires.UTC(), KeytabPrincipal: c.Principal}
	}
	rec.SetStatus(initialStatus(rec.Kind, l.ApplicationID, cmp.Or(p.User(), s.opts.User), p.FlinkVersion, l.FlinkJobID, l.MultipleJobs, time.Now()), "")
	s.opts.Logger.InfoContext(ctx, "launched", "requestId", RequestID(ctx), "kind", rec.Kind, "applicationId", l.ApplicationID,
		"flinkJobId", l.FlinkJobID, "flink", p.FlinkVersion, "name", rec.Name, "ha", l.HA, "multipleJobs", l.MultipleJobs)
	return s.record(ctx, rec, cl), nil
}

// initialStatus is the status of an application YARN has just accepted for launch.
func initialStatus(kind, appID, user, version, jobID string, multi bool, now time.Time) observe.Status {
	state := string(api.StateSubmitted)
	if kind == registry.KindSession {
		state = string(api.SessionStarting)
	}
	return observe.Status{Schema: observe.SchemaVersion, State: state, Since: now.UTC(),
		YARN:  observe.YARN{ApplicationID: appID, State: string(yarnclient.StateSubmitted), User: user},
		Flink: observe.Flink{Version: version, JobID: jobID, MultipleJobs: multi}}
}

// record writes the record of a launch (or completes the one the reconciler adopted meanwhile), points the
// key claim at it, observes it once so that the answer is fresh, and returns it as stored.
func (s *Service) record(ctx context.Context, rec registry.Record, cl *keyClaim) registry.Record {
	// The application exists: its record is written even when the launch's own deadline is spent.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	// The key claim points at the application in any case: should the record not be written, a retry finds
	// no record under the claim, takes it over and finds the application by its tags.
	defer s.pointClaim(wctx, cl, rec.ID)
	if _, err := s.opts.Registry.Create(wctx, rec); errors.Is(err, registry.ErrExists) {
		_, err = s.opts.Registry.Update(wctx, rec.ID, func(old *registry.Record) (bool, error) {
			old.KeyHash, old.Fingerprint, old.Spec, old.Name, old.Target = rec.KeyHash, rec.Fingerprint, rec.Spec, rec.Name, rec.Target
			old.Credentials, old.Owner, old.SubmittedBy, old.ACL = rec.Credentials, rec.Owner, rec.SubmittedBy, rec.ACL
			if old.AutoRestart == nil {
				old.AutoRestart = rec.AutoRestart
			}
			return true, nil
		})
		if err != nil {
			s.opts.Logger.Warn("could not complete the adopted record of a launch", "id", rec.ID, "error", err)
		}
	} else if err != nil {
		// Launched but not recorded: the reconciler adopts the application from its tags.
		s.opts.Logger.Warn("could not record a launch; the reconciler will adopt it", "id", rec.ID, "error", err)
		return rec
	}
	if rec.Kind != registry.KindSessionJob {
		if err := s.opts.Observer.Observe(ctx, rec.ID); err != nil {
			s.opts.Logger.Debug("first observation of a launch failed; the reconciler will", "id", rec.ID, "error", err)
		}
	}
	if fresh, err := s.opts.Registry.Get(ctx, rec.ID); err == nil {
		return fresh
	}
	return rec
}

// recordTimeout bounds writing the record of a launch.
const recordTimeout = 30 * time.Second

// recordFound records the application a stopped launcher had submitted for the same key.
func (s *Service) recordFound(ctx context.Context, tmpl registry.Record, app *yarnclient.App, cl *keyClaim) (registry.Record, error) {
	rec := tmpl
	rec.ID, rec.ApplicationID, rec.KeyHash, rec.Fingerprint = app.ID, app.ID, cl.hash, cl.fp
	if rec.Owner == "" {
		rec.Owner = s.opts.User
	}
	jobID := ""
	multi := app.HasTag(ident.TagMultipleJobs)
	if tmpl.Kind == registry.KindJob && !multi {
		jobID, _ = ident.FlinkJobID(app.ID)
	}
	rec.SetStatus(initialStatus(rec.Kind, app.ID, cmp.Or(app.User, s.opts.User), ident.TagValue(app.ApplicationTags, ident.TagFlinkPrefix),
		jobID, multi, time.Now()), "taken over from a stopped launcher")
	s.opts.Logger.InfoContext(ctx, "found the application a stopped launcher submitted", "requestId", RequestID(ctx), "applicationId", app.ID)
	return s.record(ctx, rec, cl), nil
}

// recordFailedLaunch keeps a hidden record of a launch reported as failed whose application may exist, so
// that the reconciler kills the application should YARN run it after all.
func (s *Service) recordFailedLaunch(ctx context.Context, kind, appID string, cause error) {
	rec := registry.Record{ID: appID, Kind: kind, ApplicationID: appID, Owner: s.opts.User}
	rec.SetState(reconcile.StateLaunchFailed, true, time.Now(), cause.Error())
	if _, err := s.opts.Registry.Create(ctx, rec); err != nil {
		s.opts.Logger.Warn("could not record a failed launch", "applicationId", appID, "error", err)
	}
}

// submitToSession runs a job in a running session: the jar streamed to the session's JobManager (once per
// session and jar) and run there under a Flink job id chosen here — derived from the session and the
// idempotency key when there is one, so that a retry, also one taking over from a stopped gateway, finds the
// job instead of running it twice. A main() that fails gives a FAILED job with the JobManager's message.
func (s *Service) submitToSession(ctx context.Context, req api.JobRequest, key, fp string, acl *registry.ACL, a actor) (registry.Record, bool, error) {
	sess, err := s.sessionRecord(ctx, req.SessionID)
	if err != nil {
		return registry.Record{}, false, err
	}
	// The job runs in the session's cluster, as the session's user; it belongs to its effective user, who
	// must be allowed to submit into the session.
	p := a.as
	if !s.may(p, &sess, accessModify) {
		return registry.Record{}, false, forbidden(p, "submit jobs into", &sess)
	}
	if sess.State != string(api.SessionRunning) || sess.Status.JobManager == "" {
		return registry.Record{}, false, fmt.Errorf("%w: session %s is %s", ErrSessionNotRunning, sess.ID, sess.State)
	}
	if req.Savepoint != nil { // the claim modes the session's Flink version knows
		if v, err := flink.ParseVersion(sess.Status.Flink.Version); err == nil {
			if why := v.CheckClaimMode(string(req.Savepoint.ClaimMode)); why != "" {
				return registry.Record{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "savepoint.claimMode", Reason: why}}}
			}
		}
	}
	return s.runInJobManager(ctx, req, key, fp, acl, a, jobManagerRun{
		kind: registry.KindSessionJob, target: targetSession, clusterID: sess.ID, jobManager: sess.Status.JobManager,
		recordID: ident.SessionJobID, yarn: sess.Status.YARN, flinkVersion: sess.Status.Flink.Version,
		unreachable: ErrSessionNotRunning, what: "session job",
	})
}

// jobManagerRun says where runInJobManager runs a job: a session's JobManager or a registered cluster's leader.
type jobManagerRun struct {
	kind, target string // the record's kind and target
	// clusterID is the session's or registered cluster's id (the record's ApplicationID); jobManager its
	// JobManager's REST URL.
	clusterID, jobManager string
	// recordID names the record from clusterID and the Flink job id.
	recordID func(clusterID, flinkJobID string) string
	// yarn is the session's YARN status (none for a registered cluster); flinkVersion the cluster's.
	yarn         observe.YARN
	flinkVersion string
	// unreachable is the error a JobManager that does not answer is reported as; what names the job in logs.
	unreachable error
	what        string
}

// runInJobManager runs a job in a JobManager the gateway did not launch for it: the jar streamed to it (once
// per cluster and jar) and run under a Flink job id chosen here — derived from the cluster and the idempotency
// key when there is one, so that a retry, also one taking over from a stopped gateway, finds the job instead of
// running it twice. A main() that fails gives a FAILED job with the JobManager's message.
func (s *Service) runInJobManager(ctx context.Context, req api.JobRequest, key, fp string, acl *registry.ACL, a actor, where jobManagerRun) (registry.Record, bool, error) {
	jar, entry, err := s.opts.Launcher.Jar(ctx, req.JarID, req.JarPath, req.EntryClass)
	if err != nil {
		return registry.Record{}, false, err
	}
	var cl *keyClaim
	if key != "" {
		var earlier *registry.Record
		if cl, earlier, err = s.claim(ctx, where.kind, key, fp); err != nil {
			return registry.Record{}, false, err
		}
		if earlier != nil {
			return *earlier, false, nil
		}
	}
	flinkID := sessionFlinkJobID(where.clusterID, key)
	run := launch.SessionRun{SessionID: where.clusterID, JobManager: where.jobManager, Jar: jar, EntryClass: entry,
		Args: req.Args, FlinkJobID: flinkID, Savepoint: savepointOf(req.Savepoint)}
	if req.Parallelism != nil {
		run.Parallelism = *req.Parallelism
	}
	type outcome struct {
		rec     registry.Record
		existed bool
	}
	out, err := detached(ctx, s, func(lctx context.Context) (outcome, error) {
		res, err := s.opts.Launcher.RunInSession(lctx, run)
		if err != nil {
			s.release(lctx, cl)
			if errors.Is(err, launch.ErrSessionUnreachable) {
				err = fmt.Errorf("%w: %w", where.unreachable, err)
			}
			return outcome{}, err
		}
		now := time.Now()
		rec := registry.Record{ID: where.recordID(where.clusterID, flinkID), Kind: where.kind, ApplicationID: where.clusterID,
			Owner: a.owner, SubmittedBy: a.caller.Name, ACL: acl, Name: req.Name, Target: where.target, Spec: redactedSpec(req),
			Webhooks: webhooksFromSpec(req)}
		if cl != nil {
			rec.KeyHash, rec.Fingerprint = cl.hash, cl.fp
		}
		st := observe.Status{Schema: observe.SchemaVersion, State: string(api.StateSubmitted), Since: now.UTC(), YARN: where.yarn,
			Flink: observe.Flink{Version: where.flinkVersion, JobID: flinkID}}
		if where.kind == registry.KindClusterJob {
			st.JobManager = where.jobManager
		}
		if res.Failure != "" {
			st.State, st.Flink.State, st.Flink.Failure = string(api.StateFailed), "FAILED", res.Failure
		}
		rec.SetStatus(st, "")
		s.opts.Logger.InfoContext(lctx, where.what+" submitted", "requestId", RequestID(lctx), "cluster", where.clusterID,
			"jobManager", where.jobManager, "flinkJobId", flinkID, "name", req.Name, "failure", res.Failure, "existed", res.Existed)
		return outcome{rec: s.record(lctx, rec, cl), existed: res.Existed}, nil
	})
	return out.rec, err == nil && !out.existed, err
}

// sessionFlinkJobID chooses the Flink job id of a session job: derived from the session and the idempotency
// key when there is one, random otherwise.
func sessionFlinkJobID(sessionID, idempotencyKey string) string {
	if idempotencyKey == "" {
		var raw [16]byte
		rand.Read(raw[:])
		return hex.EncodeToString(raw[:])
	}
	sum := sha256.Sum256([]byte("session-job\x00" + sessionID + "\x00" + idempotencyKey))
	return hex.EncodeToString(sum[:16])
}

// keyClaim is this instance's claim of an idempotency key for a launch.
type keyClaim struct {
	hash, fp string
	claim    registry.KeyClaim
	// recovering says the claim was taken over from a launcher that stopped (or names a record that is
	// gone): the launch it began may exist in YARN.
	recovering bool
}

// claimWait is how often a request polls a key claimed by a launch under way on another instance.
const claimWait = 200 * time.Millisecond

// scopedKey puts an idempotency key in its caller's scope: the same key from two users names two launches.
func scopedKey(p authn.Principal, key string) string {
	if key == "" {
		return ""
	}
	return p.User + "\x00" + key
}

// keyHash names an idempotency key in the registry; kind keeps job, session and session-job keys apart.
func keyHash(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return hex.EncodeToString(sum[:20])
}

// claim claims an idempotency key for a launch by this instance. It returns the record an earlier launch
// with the key made, or the claim this instance now holds.
func (s *Service) claim(ctx context.Context, kind, key, fp string) (*keyClaim, *registry.Record, error) {
	hash := keyHash(kind, key)
	for {
		c, won, err := s.opts.Registry.ClaimKey(ctx, hash, registry.KeyClaim{Fingerprint: fp, Launcher: s.opts.Instance})
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("claim idempotency key: %w", err)
		case won:
			return &keyClaim{hash: hash, fp: fp, claim: c}, nil, nil
		case c.Fingerprint != fp:
			return nil, nil, fmt.Errorf("%w (job %s)", ErrIdempotencyKeyReused, c.ID)
		case c.ID != "":
			rec, err := s.opts.Registry.Get(ctx, c.ID)
			if err == nil && visible(&rec) {
				return nil, &rec, nil
			}
			if err != nil && !errors.Is(err, registry.ErrNotFound) {
				return nil, nil, fmt.Errorf("read the job of an idempotency key: %w", err)
			}
			// The claim names a record that is gone or was never written (a crash in between).
			if cl, err := s.takeOver(ctx, hash, fp, c); err == nil || !retryable(err) {
				return cl, nil, err
			}
			continue
		}
		alive, err := s.alive(ctx, c.Launcher)
		if err != nil {
			return nil, nil, err
		}
		if !alive {
			if cl, err := s.takeOver(ctx, hash, fp, c); err == nil || !retryable(err) {
				return cl, nil, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("wait for the launch of the same idempotency key: %w", ctx.Err())
		case <-time.After(claimWait):
		}
	}
}

// takeOver makes this instance the launcher of a claim cut short.
func (s *Service) takeOver(ctx context.Context, hash, fp string, c registry.KeyClaim) (*keyClaim, error) {
	c.ID, c.Launcher = "", s.opts.Instance
	moved, err := s.opts.Registry.MoveClaim(ctx, hash, c)
	if err != nil {
		return nil, fmt.Errorf("take over idempotency key: %w", err)
	}
	s.opts.Logger.InfoContext(ctx, "took over the launch of a stopped instance", "requestId", RequestID(ctx))
	return &keyClaim{hash: hash, fp: fp, claim: moved, recovering: true}, nil
}

// retryable reports whether a claim update lost a race with another writer (read again and decide anew).
func retryable(err error) bool {
	return errors.Is(err, registry.ErrConflict) || errors.Is(err, registry.ErrNotFound)
}

// alive reports whether a gateway instance runs.
func (s *Service) alive(ctx context.Context, instance string) (bool, error) {
	if instance == s.opts.Instance {
		return true, nil
	}
	if s.opts.Instances == nil {
		return false, nil
	}
	ids, err := s.opts.Instances.Members(ctx)
	if err != nil {
		return false, fmt.Errorf("list gateway instances: %w", err)
	}
	return slices.Contains(ids, instance), nil
}

// pointClaim points a key claim at the record its launch made.
func (s *Service) pointClaim(ctx context.Context, cl *keyClaim, id string) {
	if cl == nil {
		return
	}
	c := cl.claim
	c.ID, c.Launcher = id, ""
	if _, err := s.opts.Registry.MoveClaim(context.WithoutCancel(ctx), cl.hash, c); err != nil {
		s.opts.Logger.Warn("could not point the idempotency key at its job", "id", id, "error", err)
	}
}

// release gives a key claim up after a launch failed, so that a retry launches anew.
func (s *Service) release(ctx context.Context, cl *keyClaim) {
	if cl == nil {
		return
	}
	if err := s.opts.Registry.ReleaseKey(context.WithoutCancel(ctx), cl.hash); err != nil {
		s.opts.Logger.Warn("could not release the idempotency key of a failed launch", "error", err)
	}
}

// redactedSpec encodes a request for its record without its secrets (package redact): the flinkConfig values
// of keys that name secrets, the credentials of URIs in any string (jarPath, savepoint path, configuration
// values, arguments), secret-looking program arguments.
func redactedSpec(req any) json.RawMessage {
	b, err := json.Marshal(req)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	for k, v := range m {
		switch k {
		case "flinkConfig":
			if cfg, ok := v.(map[string]any); ok {
				for ck, cv := range cfg {
					if s, ok := cv.(string); ok {
						cfg[ck] = redact.Value(ck, s)
					} else if redact.SensitiveKey(ck) {
						cfg[ck] = redact.Placeholder
					}
				}
			}
		case "args":
			if l, ok := v.([]any); ok {
				args := make([]string, len(l))
				for i, a := range l {
					args[i], _ = a.(string)
				}
				m[k] = redact.Args(args)
			}
		default:
			m[k] = redactURIs(v)
		}
	}
	if b, err = json.Marshal(m); err != nil {
		return nil
	}
	return b
}

// redactURIs removes the credentials of URIs from every string in a decoded JSON value.
func redactURIs(v any) any {
	switch x := v.(type) {
	case string:
		return redact.URIs(x)
	case map[string]any:
		for k, e := range x {
			x[k] = redactURIs(e)
		}
	case []any:
		for i, e := range x {
			x[i] = redactURIs(e)
		}
	}
	return v
}
