package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// A session job's id is "<session application id>.<Flink job id>", such as
// application_1763700000000_0042.0123456789abcdef0123456789abcdef: it names the session and the job, so the
// gateway finds both from the id alone (also after a restart), and it never parses as an application id.

// sessionJobID joins a session id and a Flink job id.
func sessionJobID(sessionID, flinkJobID string) string { return sessionID + "." + flinkJobID }

// parseSessionJobID splits a session job id; ok is false for anything else (application job ids too).
func parseSessionJobID(id string) (sessionID, flinkJobID string, ok bool) {
	sessionID, flinkJobID, found := strings.Cut(id, ".")
	if !found || !yarnclient.ValidApplicationID(sessionID) || !validFlinkJobID(flinkJobID) {
		return "", "", false
	}
	return sessionID, flinkJobID, true
}

// validFlinkJobID reports whether s is 32 lower-case hex digits.
func validFlinkJobID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidSessionID reports whether id has the form of a session id: a YARN application id.
func ValidSessionID(id string) bool { return yarnclient.ValidApplicationID(id) }

// ValidJobID reports whether id has the form of a job id: a YARN application id (application jobs) or a
// session job id.
func ValidJobID(id string) bool {
	_, _, ok := parseSessionJobID(id)
	return ok || yarnclient.ValidApplicationID(id)
}

// Time limits of session job submissions: uploading a jar to a JobManager, and running main() there until
// it has submitted the job.
const (
	sessionUploadTimeout = 5 * time.Minute
	sessionRunTimeout    = 3 * time.Minute
)

// sessionRegistry is what the gateway keeps in memory about sessions and their jobs. Losing it (a restart)
// loses only conveniences: job names and idempotency keys of session jobs (issue 7 makes them durable),
// and the jar upload cache (jars are uploaded again). Job records and keys are forgotten after retention.
type sessionRegistry struct {
	retention time.Duration

	mu         sync.Mutex
	lastExpiry time.Time
	stopping   map[string]bool              // sessions the gateway is stopping
	seen       map[string]sessionSeen       // per session: the last state and when it changed
	cleaned    map[string]bool              // ended sessions whose launch files were queued for removal
	jars       map[string]map[string]string // per session: jar key → the JobManager's jar id
	jobs       map[string]sessionJobRecord  // session job id → what its submission said
	keys       map[string]sessionJobKey     // idempotency key → the session job it launched
}

type sessionSeen struct {
	state string
	at    time.Time
}

type sessionJobRecord struct {
	name      string
	createdAt time.Time
}

type sessionJobKey struct {
	fingerprint, jobID string
	createdAt          time.Time
}

func newSessionRegistry() *sessionRegistry {
	return &sessionRegistry{retention: 24 * time.Hour, stopping: map[string]bool{}, seen: map[string]sessionSeen{}, cleaned: map[string]bool{},
		jars: map[string]map[string]string{}, jobs: map[string]sessionJobRecord{}, keys: map[string]sessionJobKey{}}
}

// startStopping marks a session as being stopped; false when it already was.
func (r *sessionRegistry) startStopping(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping[id] {
		return false
	}
	r.stopping[id] = true
	return true
}

func (r *sessionRegistry) isStopping(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping[id]
}

// stopped forgets the jar uploads of a session that has been stopped.
func (r *sessionRegistry) stopped(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.jars, id)
}

// observe records a session's state and returns when it last changed.
func (r *sessionRegistry) observe(id, state string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[id]
	if !ok || s.state != state {
		s = sessionSeen{state: state, at: time.Now()}
		r.seen[id] = s
	}
	return s.at
}

// claimCleanup reports whether the caller should queue the removal of an ended session's launch files.
func (r *sessionRegistry) claimCleanup(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cleaned[id] {
		return false
	}
	r.cleaned[id] = true
	delete(r.jars, id)
	return true
}

func (r *sessionRegistry) jar(session, key string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.jars[session][key]
	return id, ok
}

func (r *sessionRegistry) setJar(session, key, jmJarID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jars[session] == nil {
		r.jars[session] = map[string]string{}
	}
	if jmJarID == "" {
		delete(r.jars[session], key)
		return
	}
	r.jars[session][key] = jmJarID
}

func (r *sessionRegistry) addJob(id string, rec sessionJobRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(time.Now())
	r.jobs[id] = rec
}

// knowSessionJob tells the session registry of a session job recorded elsewhere (by another instance or an
// earlier process), so that it is described as a job the gateway launched.
func (s *JobService) knowSessionJob(rec registry.Record) {
	if _, ok := s.sessions.job(rec.ID); ok {
		return
	}
	var v struct {
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"createdAt"`
	}
	json.Unmarshal(rec.View, &v) //nolint:errcheck // our own encoding
	s.sessions.addJob(rec.ID, sessionJobRecord{name: v.Name, createdAt: v.CreatedAt})
}

// expire forgets job records and idempotency keys older than retention, sweeping at most once a minute.
// Called with mu held.
func (r *sessionRegistry) expire(now time.Time) {
	if now.Sub(r.lastExpiry) < time.Minute {
		return
	}
	r.lastExpiry = now
	for id, rec := range r.jobs {
		if now.Sub(rec.createdAt) > r.retention {
			delete(r.jobs, id)
		}
	}
	for k, v := range r.keys {
		if now.Sub(v.createdAt) > r.retention {
			delete(r.keys, k)
		}
	}
}

func (r *sessionRegistry) job(id string) (sessionJobRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.jobs[id]
	return rec, ok
}

func (r *sessionRegistry) key(k string) (sessionJobKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.keys[k]
	return v, ok
}

func (r *sessionRegistry) setKey(k string, v sessionJobKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v.createdAt = time.Now()
	r.keys[k] = v
}

// sessionFlinkJobID chooses the Flink job id of a session job: derived from the session and the
// idempotency key when there is one (a retry, also one taking over from a gateway that stopped in the middle,
// runs under the same id, which the JobManager accepts once), random otherwise.
func sessionFlinkJobID(sessionID, idempotencyKey string) string {
	if idempotencyKey == "" {
		var raw [16]byte
		rand.Read(raw[:])
		return hex.EncodeToString(raw[:])
	}
	sum := sha256.Sum256([]byte("session-job\x00" + sessionID + "\x00" + idempotencyKey))
	return hex.EncodeToString(sum[:16])
}

// submitToSession runs a job in a session: the staged jar is streamed from HDFS to the session's
// JobManager (once per jar and session), then run there with a Flink job id fixed here. A main() that fails
// gives a FAILED job with the JobManager's message; the session is unaffected.
func (s *JobService) submitToSession(ctx context.Context, req api.JobRequest, idempotencyKey string) (api.Job, bool, error) {
	if idempotencyKey != "" {
		// In-process; across processes and instances RecordedJobs claims the key, and the Flink job id derived
		// from it finds a job a stopped gateway already ran.
		unlock, err := s.keys.lock(ctx, "session-job\x00"+idempotencyKey)
		if err != nil {
			return api.Job{}, false, err
		}
		defer unlock()
		if k, ok := s.sessions.key(idempotencyKey); ok {
			if k.fingerprint != jobRequestFingerprint(&req) {
				return api.Job{}, false, fmt.Errorf("%w (job %s)", ErrIdempotencyKeyReused, k.jobID)
			}
			job, err := s.Job(ctx, k.jobID)
			return job, false, err
		}
	}
	fingerprint := jobRequestFingerprint(&req)
	app, err := s.sessionApp(ctx, req.SessionID)
	if err != nil {
		return api.Job{}, false, err
	}
	jmURL := s.jobManagerURL(ctx, app)
	if jmURL == "" || s.sessions.isStopping(app.ID) {
		return api.Job{}, false, fmt.Errorf("%w: session %s is %s", ErrSessionNotRunning, app.ID, s.describeSession(ctx, app).State)
	}
	jm, err := jobmanager.New(jmURL, s.jmHTTP)
	if err != nil {
		return api.Job{}, false, err
	}
	if _, err := jm.Config(ctx); err != nil {
		return api.Job{}, false, fmt.Errorf("%w: the JobManager of session %s does not answer yet: %w", ErrSessionNotRunning, app.ID, err)
	}
	jar, err := s.resolveJar(ctx, &req)
	if err != nil {
		return api.Job{}, false, err
	}
	jmJar, err := s.sessionJar(ctx, app.ID, jmURL, jar)
	if err != nil {
		return api.Job{}, false, err
	}
	flinkID := sessionFlinkJobID(app.ID, idempotencyKey)
	id := sessionJobID(app.ID, flinkID)
	if idempotencyKey != "" {
		// A launch with this key that a stopped gateway began may have run already: the fixed id tells.
		if d, err := jm.Job(ctx, flinkID); err == nil && d.State != "" {
			s.sessions.setKey(idempotencyKey, sessionJobKey{fingerprint: fingerprint, jobID: id})
			job, err := s.Job(ctx, id)
			return job, false, err
		}
	}
	now := time.Now()
	s.sessions.addJob(id, sessionJobRecord{name: req.Name, createdAt: now})
	run := jobmanager.RunRequest{EntryClass: req.EntryClass, ProgramArgsList: req.Args, JobID: flinkID}
	if req.Parallelism != nil {
		run.Parallelism = *req.Parallelism
	}
	if req.Savepoint != nil {
		run.SavepointPath, run.AllowNonRestoredState = req.Savepoint.Path, req.Savepoint.AllowNonRestoredState
	}
	runJM, _ := jobmanager.New(jmURL, s.jmStream)
	runCtx, cancel := context.WithTimeout(ctx, sessionRunTimeout)
	_, err = runJM.RunJar(runCtx, jmJar, run)
	cancel()
	var jmErr *jobmanager.Error
	switch {
	case errors.As(err, &jmErr) && errors.Is(err, jobmanager.ErrBadRequest):
		// main() failed (or the program is invalid): no Flink job exists; the failure is the job's.
		failure := strings.Join(jmErr.Messages, "; ")
		job := s.sessionJobBase(app, id, flinkID)
		job.State, job.Flink.State, job.Flink.Failure = api.StateFailed, ptr("FAILED"), &failure
		job = s.tracker.observe(job)
		s.opts.Logger.InfoContext(ctx, "session job failed in main()", "requestId", RequestID(ctx), "session", app.ID,
			"flinkJobId", flinkID, "failure", failure)
		if idempotencyKey != "" {
			s.sessions.setKey(idempotencyKey, sessionJobKey{fingerprint: fingerprint, jobID: id})
		}
		return job, true, nil
	case err != nil:
		// The job may have been submitted all the same (the answer was lost): its fixed id tells.
		if job, jerr := s.Job(ctx, id); jerr == nil && job.Flink.State != nil {
			return job, true, nil
		}
		return api.Job{}, false, fmt.Errorf("run jar in session %s: %w", app.ID, err)
	}
	if idempotencyKey != "" {
		s.sessions.setKey(idempotencyKey, sessionJobKey{fingerprint: fingerprint, jobID: id})
	}
	s.opts.Logger.InfoContext(ctx, "session job submitted", "requestId", RequestID(ctx), "session", app.ID,
		"flinkJobId", flinkID, "name", req.Name, "jar", jar.URI)
	job, err := s.Job(ctx, id)
	if err != nil {
		job = s.sessionJobBase(app, id, flinkID)
		job.State = api.StateStarting
		job = s.tracker.observe(job)
	}
	return job, true, nil
}

// sessionJar returns the JobManager's id of the jar in this session, uploading it (streamed from HDFS) when
// the session does not have it. Uploads of one jar to one session are serialised, so it is uploaded once.
func (s *JobService) sessionJar(ctx context.Context, sessionID, jmURL string, jar resolvedJar) (string, error) {
	key := fmt.Sprintf("%s@%d@%d", jar.URI, jar.Size, jar.ModTime)
	unlock, err := s.keys.lock(ctx, "session-jar\x00"+sessionID+"\x00"+key)
	if err != nil {
		return "", err
	}
	defer unlock()
	jm, err := jobmanager.New(jmURL, s.jmHTTP)
	if err != nil {
		return "", err
	}
	if id, ok := s.sessions.jar(sessionID, key); ok {
		files, err := jm.Jars(ctx)
		if err != nil {
			return "", fmt.Errorf("list jars of session %s: %w", sessionID, err)
		}
		for _, f := range files {
			if f.ID == id {
				return id, nil
			}
		}
		s.sessions.setJar(sessionID, key, "") // gone (the JobManager restarted): upload again
	}
	u, err := url.Parse(jar.URI)
	if err != nil {
		return "", fmt.Errorf("jar uri %q: %w", jar.URI, err)
	}
	upCtx, cancel := context.WithTimeout(ctx, sessionUploadTimeout)
	defer cancel()
	r, err := s.opts.Files.Open(upCtx, u.Path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", u.Path, err)
	}
	defer r.Close()
	up, _ := jobmanager.New(jmURL, s.jmStream)
	id, err := up.UploadJar(upCtx, path.Base(u.Path), r)
	if err != nil {
		return "", fmt.Errorf("upload jar to session %s: %w", sessionID, err)
	}
	s.sessions.setJar(sessionID, key, id)
	s.opts.Logger.InfoContext(ctx, "jar uploaded to a session", "requestId", RequestID(ctx), "session", sessionID,
		"jar", jar.URI, "jobManagerJarId", id)
	return id, nil
}

// sessionJobBase is a session job's object without its state: the session's YARN report and what the
// submission said.
func (s *JobService) sessionJobBase(app *yarnclient.App, id, flinkID string) api.Job {
	job := api.Job{
		ID: id, Target: targetSession,
		YARN: api.JobYARN{ApplicationID: app.ID, State: string(app.State), FinalStatus: string(app.FinalStatus),
			Diagnostics: cleanDiagnostics(app.Diagnostics), Queue: app.Queue, User: app.User},
		Flink:     api.JobFlink{JobID: flinkID, Version: tagValue(app, tagFlinkPrefix)},
		Links:     s.links(app.ID, ""),
		CreatedAt: app.Started(),
	}
	if rec, ok := s.sessions.job(id); ok {
		job.Name, job.CreatedAt = rec.name, rec.createdAt
	}
	return job
}

// sessionJob returns the current state of a session job, from its session's JobManager while the session
// runs, else from the archive the JobManager wrote to HDFS when the job ended. A job neither seen ended nor
// archived is CANCELED when its session was stopped (stopping a session cancels its jobs) and LOST when the
// session failed or is gone, or when the running JobManager no longer knows it.
func (s *JobService) sessionJob(ctx context.Context, id string) (api.Job, error) {
	if job, ok := s.tracker.final(id); ok {
		return job, nil
	}
	sessionID, _, _ := parseSessionJobID(id)
	app, err := s.opts.RM.App(ctx, sessionID)
	return s.describeSessionJob(ctx, id, app, err)
}

// describeSessionJob is sessionJob given the session's application report (or the error reading it).
func (s *JobService) describeSessionJob(ctx context.Context, id string, app *yarnclient.App, err error) (api.Job, error) {
	sessionID, flinkID, _ := parseSessionJobID(id)
	_, known := s.sessions.job(id)
	if errors.Is(err, yarnclient.ErrNotFound) || (err == nil && (!app.HasTag(tagGateway) || !app.HasTag(tagKindSession))) {
		if app == nil {
			app = &yarnclient.App{ID: sessionID}
		}
		job := s.sessionJobBase(app, id, flinkID)
		if !s.archivedOutcome(ctx, &job) {
			if !known {
				return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
			}
			job.State = api.StateLost
		}
		return s.tracker.observe(job), nil
	}
	if err != nil {
		return api.Job{}, fmt.Errorf("read application %s: %w", sessionID, err)
	}
	job := s.sessionJobBase(app, id, flinkID)
	jmURL := s.jobManagerURL(ctx, app)
	switch {
	case jmURL != "":
		jm, err := jobmanager.New(jmURL, s.jmHTTP)
		if err != nil {
			return api.Job{}, err
		}
		d, err := jm.Job(ctx, flinkID)
		switch {
		case errors.Is(err, jobmanager.ErrNotFound):
			if s.archivedOutcome(ctx, &job) {
				break // expired from the JobManager's job store
			}
			if _, seen := s.tracker.last(id); (known || seen) && s.recovering(app) {
				// A new JobManager of an HA session recovers its jobs from the HA stores: not lost yet.
				job.State = api.StateStarting
				break
			}
			if !known {
				return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
			}
			job.State = api.StateLost // the JobManager forgot it (restarted)
		case err != nil:
			// The JobManager does not answer: keep the last state seen.
			if st, ok := s.tracker.last(id); ok {
				job.State = st
			} else if !known {
				return api.Job{}, fmt.Errorf("read job %s from session %s: %w", flinkID, sessionID, err)
			} else {
				job.State = api.StateStarting
			}
		default:
			job.State = deriveState(yarnclient.StateRunning, "", d.State)
			job.Flink.State = ptr(string(d.State))
			if !known {
				job.Name = d.Name
				if d.StartTime > 0 {
					job.CreatedAt = time.UnixMilli(d.StartTime)
				}
			}
			if d.State == "FAILED" || d.State == "FAILING" {
				if msg, _ := jm.RootException(ctx, flinkID); msg != "" {
					job.Flink.Failure = &msg
				}
			}
			route := "running"
			if d.State.Terminal() {
				route = "completed"
			}
			job.Links = s.links(app.ID, jmURL)
			job.Links.FlinkUI = ptr(*job.Links.FlinkUI + "#/job/" + route + "/" + flinkID + "/overview")
		}
	case app.State.Terminal():
		if s.archivedOutcome(ctx, &job) {
			break
		}
		if !known {
			if _, seen := s.tracker.last(id); !seen {
				return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
			}
		}
		job.State = api.StateCanceled
		if deriveSessionState(app, false, false) == api.SessionFailed {
			job.State = api.StateLost
		}
	default: // the session is starting, or starting again in a new attempt
		_, seen := s.tracker.last(id)
		if !known && !seen {
			return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
		}
		job.State = s.holdDuringFailover(id, api.StateSubmitted)
	}
	return s.tracker.observe(job), nil
}

// archivedOutcome sets the state and failure of a job that ended from its job archive; false when it has
// none.
func (s *JobService) archivedOutcome(ctx context.Context, job *api.Job) bool {
	b := s.readArchive(ctx, job.Flink.JobID)
	if b == nil {
		return false
	}
	st, err := jobmanager.ArchivedJobStatus(b, job.Flink.JobID)
	if err != nil || !st.Terminal() {
		return false
	}
	job.State = deriveState(yarnclient.StateRunning, "", st)
	job.Flink.State = ptr(string(st))
	if msg, _ := jobmanager.ArchivedRootException(b, job.Flink.JobID); msg != "" {
		job.Flink.Failure = &msg
	}
	return true
}

// cancelSessionJob cancels a session job through its session's JobManager. There is no YARN application of
// its own to kill: kill is the same as cancel.
func (s *JobService) cancelSessionJob(ctx context.Context, id string) (api.Job, error) {
	job, err := s.sessionJob(ctx, id)
	if err != nil || job.Terminal {
		return job, err
	}
	if job.Links.JobManager == nil {
		return api.Job{}, fmt.Errorf("%w: cannot cancel %s", ErrSessionNotRunning, id)
	}
	jm, err := jobmanager.New(*job.Links.JobManager, s.jmHTTP)
	if err == nil {
		err = jm.Cancel(ctx, job.Flink.JobID)
	}
	if err != nil {
		return api.Job{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	s.opts.Logger.InfoContext(ctx, "session job cancel requested", "requestId", RequestID(ctx), "job", id)
	return s.sessionJob(ctx, id)
}

// sessionJobs lists the jobs of the running sessions among apps, from their JobManagers.
func (s *JobService) sessionJobs(ctx context.Context, apps []yarnclient.App) []api.Job {
	var jobs []api.Job
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(tagKindSession) {
			continue
		}
		jmURL := s.jobManagerURL(ctx, app)
		if jmURL == "" {
			continue
		}
		jm, err := jobmanager.New(jmURL, s.jmHTTP)
		if err != nil {
			continue
		}
		list, err := jm.Jobs(ctx)
		if err != nil {
			continue // a session that does not answer lists no jobs
		}
		for _, o := range list {
			if !validFlinkJobID(o.ID) {
				continue
			}
			id := sessionJobID(app.ID, o.ID)
			job, ok := s.tracker.final(id)
			if !ok {
				if job, err = s.describeSessionJob(ctx, id, app, nil); err != nil {
					continue
				}
			}
			jobs = append(jobs, job)
		}
	}
	return jobs
}

// latchSessionJobs records the state of every job a session's JobManager knows, before the session
// goes away.
func (s *JobService) latchSessionJobs(ctx context.Context, sessionID string, jm *jobmanager.Client) {
	list, err := jm.Jobs(ctx)
	if err != nil {
		return
	}
	for _, o := range list {
		if validFlinkJobID(o.ID) {
			s.sessionJob(ctx, sessionJobID(sessionID, o.ID)) //nolint:errcheck // only its side effect
		}
	}
}
