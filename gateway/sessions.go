package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

// Errors of sessions, rendered by classify.
var (
	// ErrSessionNotFound: no session with this id (or the application is not a yarngate session).
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionNotRunning: the session is starting, stopping or ended, so it takes no jobs.
	ErrSessionNotRunning = errors.New("session not running")
)

// tagKindSession marks the YARN applications of session clusters; application jobs do not carry it.
const tagKindSession = "yarngate-kind:session"

// deriveSessionState maps the session's YARN report, whether its JobManager answers and whether the
// gateway is stopping it, to the session state:
//
//	YARN FINISHED with final status FAILED, or YARN FAILED → FAILED
//	YARN FINISHED otherwise, or KILLED                     → STOPPED
//	being stopped by the gateway                           → STOPPING
//	YARN RUNNING and the JobManager REST API answers       → RUNNING
//	otherwise                                              → STARTING
func deriveSessionState(app *yarnclient.App, jmAnswers, stopping bool) api.SessionState {
	switch {
	case app.State == yarnclient.StateFailed,
		app.State == yarnclient.StateFinished && app.FinalStatus == yarnclient.FinalFailed:
		return api.SessionFailed
	case app.State.Terminal():
		return api.SessionStopped
	case stopping:
		return api.SessionStopping
	case (app.State == yarnclient.StateRunning || app.State == yarnclient.StateAccepted) && jmAnswers:
		// ACCEPTED: a new attempt's JobManager of an HA session leads before YARN reports the attempt.
		return api.SessionRunning
	}
	return api.SessionStarting
}

// normalizeSessionRequest fills defaults, checks what can be checked without the cluster and returns the Flink
// configuration as strings.
func normalizeSessionRequest(r *api.SessionRequest) (map[string]string, error) {
	var e api.SpecError
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		r.Name = "yarngate-session"
	}
	if len(r.Name) > maxJobNameLen || strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		e.Add("name", "must be at most %d characters without control characters", maxJobNameLen)
	}
	if r.TaskManager != nil && r.TaskManager.Slots != nil && *r.TaskManager.Slots < 1 {
		e.Add("taskManager.slots", "must be at least 1")
	}
	cfg := flinkConfigStrings(r.FlinkConfig, &e)
	return cfg, e.OrNil()
}

// sessionRequestFingerprint is a short hash of the request (see jobRequestFingerprint).
func sessionRequestFingerprint(r *api.SessionRequest) string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// sessionIdempotencyTags are idempotencyTags for sessions: a key used for a session never matches a job's.
func sessionIdempotencyTags(key, fingerprint string) (idem, spec string) {
	sum := sha256.Sum256([]byte("session\x00" + key))
	return tagIdemPrefix + hex.EncodeToString(sum[:20]), tagSpecPrefix + fingerprint
}

// CreateSession launches a Flink session cluster. With an idempotency key, a request launched before
// (also by an earlier gateway process) returns that session and created=false.
func (s *JobService) CreateSession(ctx context.Context, req api.SessionRequest, idempotencyKey string) (api.Session, bool, error) {
	flinkConfig, err := normalizeSessionRequest(&req)
	if err != nil {
		return api.Session{}, false, err
	}
	dist, err := s.dists.resolve(req.FlinkVersion)
	if err != nil {
		return api.Session{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "flinkVersion", Reason: err.Error()}}}
	}
	var tags []string
	if idempotencyKey != "" {
		unlock, err := s.keys.lock(ctx, "session\x00"+idempotencyKey)
		if err != nil {
			return api.Session{}, false, err
		}
		defer unlock()
		idem, spec := sessionIdempotencyTags(idempotencyKey, sessionRequestFingerprint(&req))
		if sess, found, err := s.findSessionByTag(ctx, idem, spec); err != nil || found {
			return sess, false, err
		}
		tags = append(tags, idem, spec)
	}
	libs, na, err := s.prepareLaunch(ctx, req.Queue, dist)
	if err != nil {
		return api.Session{}, false, err
	}
	// Jobs that end in the session are archived like application jobs, so that their outcome can be read
	// after the session is gone.
	setDefault(flinkConfig, "jobmanager.archive.fs.dir", s.opts.Files.URI(s.archiveDir()))
	spec := flink.LaunchSpec{
		Dist: dist, Libs: libs, ApplicationID: na.ApplicationID, Mode: flink.ModeSession,
		FlinkConfig: flinkConfig, Queue: req.Queue, Name: req.Name, User: s.opts.User,
		StagingDir:       s.opts.Files.URI(s.opts.StagingRoot),
		YarnClasspath:    s.opts.YarnClasspath,
		MinAllocationMB:  s.opts.MinAllocationMB,
		MaxResource:      &na.MaximumResourceCapability,
		JobManagerMemory: s.opts.JobManagerMemory, TaskManagerMemory: s.opts.TaskManagerMemory,
		TaskManagerSlots: s.opts.TaskManagerSlots,
		Tags:             append([]string{tagGateway, s.homeTag(), tagKindSession, tagFlinkPrefix + dist.Version.Raw}, tags...),
	}
	if req.JobManager != nil && req.JobManager.Memory != "" {
		spec.JobManagerMemory = req.JobManager.Memory
	}
	if req.TaskManager != nil {
		if req.TaskManager.Memory != "" {
			spec.TaskManagerMemory = req.TaskManager.Memory
		}
		if req.TaskManager.Slots != nil {
			spec.TaskManagerSlots = *req.TaskManager.Slots
		}
	}
	if err := s.launch(ctx, spec); err != nil {
		return api.Session{}, false, err
	}
	s.opts.Logger.InfoContext(ctx, "session launched", "requestId", RequestID(ctx), "applicationId", na.ApplicationID,
		"flink", dist.Version.Raw, "name", req.Name)
	sess, err := s.Session(ctx, na.ApplicationID)
	if err != nil {
		now := time.Now()
		sess = api.Session{ID: na.ApplicationID, Name: req.Name, State: api.SessionStarting, FlinkVersion: dist.Version.Raw,
			YARN:  api.JobYARN{ApplicationID: na.ApplicationID, State: string(yarnclient.StateSubmitted), Queue: req.Queue, User: s.opts.User},
			Links: s.links(na.ApplicationID, ""), CreatedAt: now, UpdatedAt: now}
	}
	return sess, true, nil
}

// findSessionByTag looks for the session launched earlier for an idempotency key.
func (s *JobService) findSessionByTag(ctx context.Context, idemTag, specTag string) (api.Session, bool, error) {
	apps, err := s.opts.RM.Apps(ctx, yarnclient.AppsFilter{ApplicationTags: []string{idemTag}})
	if err != nil {
		return api.Session{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(idemTag) || !app.HasTag(tagKindSession) {
			continue
		}
		if !app.HasTag(specTag) {
			return api.Session{}, false, fmt.Errorf("%w (application %s)", ErrIdempotencyKeyReused, app.ID)
		}
		return s.describeSession(ctx, app), true, nil
	}
	return api.Session{}, false, nil
}

// sessionApp reads the application report of a session.
func (s *JobService) sessionApp(ctx context.Context, id string) (*yarnclient.App, error) {
	if !yarnclient.ValidApplicationID(id) {
		return nil, fmt.Errorf("%w: %q is not a session id", ErrSessionNotFound, id)
	}
	app, err := s.opts.RM.App(ctx, id)
	if errors.Is(err, yarnclient.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read application %s: %w", id, err)
	}
	if !app.HasTag(tagGateway) || !app.HasTag(tagKindSession) {
		return nil, fmt.Errorf("%w: %s is not a yarngate session", ErrSessionNotFound, id)
	}
	return app, nil
}

// Session returns the current state of a session.
func (s *JobService) Session(ctx context.Context, id string) (api.Session, error) {
	app, err := s.sessionApp(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	return s.describeSession(ctx, app), nil
}

// StopSession shuts a session down in the background: the JobManager's DELETE /cluster (which ends the
// session's jobs), a YARN kill when the application has not ended after SessionStopGrace, then removal of
// its launch files. It returns at once with the session STOPPING; a session that has ended is returned
// unchanged.
func (s *JobService) StopSession(ctx context.Context, id string) (api.Session, error) {
	app, err := s.sessionApp(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	if app.State.Terminal() {
		return s.describeSession(ctx, app), nil
	}
	if s.bg.Err() != nil {
		return api.Session{}, fmt.Errorf("stop session %s: %w", id, s.bg.Err())
	}
	if s.sessions.startStopping(id) {
		jmURL := s.jobManagerURL(ctx, app)
		s.done.Go(func() { s.stopSession(id, jmURL) })
		s.opts.Logger.InfoContext(ctx, "session stop requested", "requestId", RequestID(ctx), "applicationId", id)
	}
	return s.describeSession(ctx, app), nil
}

// stopSession is the background part of StopSession.
func (s *JobService) stopSession(id, jmURL string) {
	ctx, cancel := context.WithTimeout(s.bg, s.opts.SessionStopGrace+2*time.Minute)
	defer cancel()
	log := s.opts.Logger.With("applicationId", id)
	if jmURL != "" {
		if jm, err := jobmanager.New(jmURL, s.jmHTTP); err == nil {
			s.latchSessionJobs(ctx, id, jm) // the last word on jobs that ended in the session
			if err := jm.ShutdownCluster(ctx); err != nil {
				log.Info("session shutdown through the JobManager failed; will kill", "error", err)
			}
		}
	}
	ended := s.waitAppEnd(ctx, id, s.opts.SessionStopGrace)
	if !ended && ctx.Err() == nil {
		if _, err := s.opts.RM.Kill(ctx, id, "session stopped through yarngate"); err != nil {
			log.Warn("could not kill a session", "error", err)
		}
		ended = s.waitAppEnd(ctx, id, time.Minute)
	}
	if !ended {
		log.Warn("the session's application has not ended")
	}
	dir := path.Join(s.opts.StagingRoot, ".flink", id)
	if err := s.opts.Files.RemoveAll(ctx, dir); err != nil {
		log.Warn("could not remove the staging files of a session", "path", dir, "error", err)
	}
	s.sessions.stopped(id)
	log.Info("session stopped", "ended", ended)
}

// waitAppEnd polls the application until it has ended or d has passed.
func (s *JobService) waitAppEnd(ctx context.Context, id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		app, err := s.opts.RM.App(ctx, id)
		if errors.Is(err, yarnclient.ErrNotFound) || (err == nil && app.State.Terminal()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// describeSession builds the session object from its application report, asking the JobManager whether it
// answers while the application runs.
func (s *JobService) describeSession(ctx context.Context, app *yarnclient.App) api.Session {
	jmURL := s.jobManagerURL(ctx, app)
	answers := false
	if jmURL != "" {
		if jm, err := jobmanager.New(jmURL, s.jmHTTP); err == nil {
			_, err = jm.Config(ctx)
			answers = err == nil
		}
	}
	state := deriveSessionState(app, answers, s.sessions.isStopping(app.ID))
	sess := api.Session{
		ID: app.ID, Name: app.Name, State: state, FlinkVersion: tagValue(app, tagFlinkPrefix),
		YARN: api.JobYARN{ApplicationID: app.ID, State: string(app.State), FinalStatus: string(app.FinalStatus),
			Diagnostics: cleanDiagnostics(app.Diagnostics), Queue: app.Queue, User: app.User},
		CreatedAt: app.Started(),
	}
	if state == api.SessionRunning || state == api.SessionStopping {
		sess.Links = s.links(app.ID, jmURL)
	} else {
		sess.Links = s.links(app.ID, "")
	}
	sess.UpdatedAt = s.sessions.observe(app.ID, string(state))
	if state.Terminal() && s.sessions.claimCleanup(app.ID) {
		select {
		case s.cleanups <- app.ID:
		default:
		}
	}
	return sess
}

// amURL is the JobManager's REST base of a running Flink application as YARN reports it (Flink registers its
// REST endpoint as the AM's RPC address), "" when it does not run. See jobManagerURL for HA clusters.
func amURL(app *yarnclient.App) string {
	if app.State == yarnclient.StateRunning && app.AMRPCAddress != "" && app.AMRPCAddress != "N/A" {
		return "http://" + app.AMRPCAddress
	}
	return ""
}
