package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

// Job returns the current state of a job.
func (s *JobService) Job(ctx context.Context, id string) (api.Job, error) {
	if _, _, ok := parseSessionJobID(id); ok {
		return s.sessionJob(ctx, id)
	}
	if !yarnclient.ValidApplicationID(id) {
		return api.Job{}, fmt.Errorf("%w: %q is not a job id", ErrJobNotFound, id)
	}
	if job, ok := s.tracker.terminal(id); ok {
		return job, nil
	}
	app, err := s.opts.RM.App(ctx, id)
	if errors.Is(err, yarnclient.ErrNotFound) {
		return api.Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	}
	if err != nil {
		return api.Job{}, fmt.Errorf("read application %s: %w", id, err)
	}
	if !app.HasTag(tagGateway) {
		return api.Job{}, fmt.Errorf("%w: %s is not a yarngate application", ErrJobNotFound, id)
	}
	if app.HasTag(tagKindSession) {
		return api.Job{}, fmt.Errorf("%w: %s is a session (GET /v1/sessions/%s)", ErrJobNotFound, id, id)
	}
	return s.describe(ctx, app)
}

// Cancel cancels a job through its JobManager, or kills its YARN application when kill is set, the
// JobManager does not answer or the job does not run yet. A job that has ended is returned unchanged.
func (s *JobService) Cancel(ctx context.Context, id string, kill bool) (api.Job, error) {
	if _, _, ok := parseSessionJobID(id); ok {
		return s.cancelSessionJob(ctx, id)
	}
	job, err := s.Job(ctx, id)
	if err != nil || job.Terminal {
		return job, err
	}
	if !kill && job.Links.JobManager != nil {
		jm, err := jobmanager.New(*job.Links.JobManager, s.jmHTTP)
		if err == nil {
			err = jm.Cancel(ctx, job.Flink.JobID)
		}
		if err == nil {
			s.opts.Logger.InfoContext(ctx, "job cancel requested", "requestId", RequestID(ctx), "applicationId", id)
			return s.Job(ctx, id)
		}
		s.opts.Logger.InfoContext(ctx, "cancel through the JobManager failed; killing the application",
			"requestId", RequestID(ctx), "applicationId", id, "error", err)
	}
	state, err := s.opts.RM.Kill(ctx, id, "killed through yarngate (request "+RequestID(ctx)+")")
	if err != nil {
		return api.Job{}, fmt.Errorf("kill %s: %w", id, err)
	}
	s.opts.Logger.InfoContext(ctx, "application killed", "requestId", RequestID(ctx), "applicationId", id, "state", state)
	return s.Job(ctx, id)
}

// describe builds the job object from an application report, asking the JobManager for the Flink job
// while the application runs.
func (s *JobService) describe(ctx context.Context, app *yarnclient.App) (api.Job, error) {
	jobID, err := flinkJobID(app.ID)
	if err != nil {
		return api.Job{}, err
	}
	job := api.Job{
		ID: app.ID, Name: app.Name, Target: tagValue(app, tagTargetPrefix),
		YARN: api.JobYARN{ApplicationID: app.ID, State: string(app.State), FinalStatus: string(app.FinalStatus),
			Diagnostics: cleanDiagnostics(app.Diagnostics), Queue: app.Queue, User: app.User},
		Flink:     api.JobFlink{JobID: jobID, Version: tagValue(app, tagFlinkPrefix)},
		CreatedAt: app.Started(),
	}
	jmURL := s.jobManagerURL(ctx, app)
	var flinkState jobmanager.JobStatus
	var failure string
	if jmURL != "" {
		flinkState, failure = s.flinkStatus(ctx, jmURL, jobID)
	}
	yarnState := app.State
	if jmURL != "" && yarnState == yarnclient.StateAccepted {
		yarnState = yarnclient.StateRunning // a new attempt's JobManager leads before YARN reports it running
	}
	job.State = s.holdDuringFailover(app.ID, deriveState(yarnState, app.FinalStatus, flinkState))
	if flinkState == "" && app.State == yarnclient.StateFinished {
		// An application cluster ends with its job: its final status is the job's outcome.
		switch job.State {
		case api.StateFinished, api.StateFailed, api.StateCanceled:
			flinkState = jobmanager.JobStatus(job.State)
		}
	}
	if flinkState != "" {
		job.Flink.State = ptr(string(flinkState))
	}
	if failure != "" {
		job.Flink.Failure = ptr(failure)
	}
	job.Links = s.links(app.ID, jmURL)
	job = s.tracker.observe(job)
	if job.Terminal && app.State.Terminal() {
		s.afterEnd(app, job)
	}
	return job, nil
}

// afterEnd queues the work for an ended application: removing its launch files and, for a failed job
// whose failure is not known, finding it (from the job archive or the JobManager log). Each is claimed
// once; a full queue leaves it to a later observation.
func (s *JobService) afterEnd(app *yarnclient.App, job api.Job) {
	if s.tracker.claim(app.ID, claimCleanup) {
		select {
		case s.cleanups <- app.ID:
		default:
			s.tracker.release(app.ID, claimCleanup)
		}
	}
	if job.State == api.StateFailed && job.Flink.Failure == nil && s.tracker.claim(app.ID, claimDiagnosis) {
		select {
		case s.diagnoses <- diagnosis{appID: app.ID, jobID: job.Flink.JobID, logs: app.AMContainerLogs}:
		default:
			s.tracker.release(app.ID, claimDiagnosis)
		}
	}
}

// diagnosis is a failed job whose root exception is to be found.
type diagnosis struct {
	appID, jobID, logs string
}

// diagnoseLoop finds the failures of failed jobs, a few at a time, and records them in the tracker.
func (s *JobService) diagnoseLoop(ctx context.Context) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.diagnoses:
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				dctx, cancel := context.WithTimeout(ctx, diagnosisTimeout)
				defer cancel()
				msg := s.archivedFailure(dctx, d.jobID)
				if msg == "" && d.logs != "" {
					msg = s.loggedFailure(dctx, d.appID, d.logs)
				}
				if msg == "" {
					msg = "no failure recorded: the job archive and the JobManager log name none"
				}
				s.tracker.setFailure(d.appID, msg)
			})
		}
	}
}

// diagnosisTimeout bounds the search for one job's failure.
const diagnosisTimeout = 2 * time.Minute

// flinkStatus asks the JobManager for the job's status and, for a failing job, its root exception. An
// unreachable JobManager or an unknown job gives "".
func (s *JobService) flinkStatus(ctx context.Context, jmURL, jobID string) (state jobmanager.JobStatus, failure string) {
	jm, err := jobmanager.New(jmURL, s.jmHTTP)
	if err != nil {
		return "", ""
	}
	d, err := jm.Job(ctx, jobID)
	if err != nil {
		return "", ""
	}
	if d.State == "FAILED" || d.State == "FAILING" {
		failure, _ = jm.RootException(ctx, jobID)
	}
	return d.State, failure
}

// jobManagerLogTail is how much of the end of a JobManager log is searched for a driver failure.
const jobManagerLogTail = 1 << 20

// loggedFailure finds a failed driver's exception in the JobManager log its NodeManager keeps; "" when
// the log is gone or names none.
// The NodeManager answers 503 for a container it is still cleaning up, for some seconds after the
// ResourceManager reports the application ended; the read is retried until ctx ends.
func (s *JobService) loggedFailure(ctx context.Context, appID, logs string) string {
	backoff := time.Second
	for {
		log, err := s.opts.RM.ContainerLog(ctx, logs, "jobmanager.log", jobManagerLogTail)
		if err == nil {
			return jobmanager.DriverFailure(log)
		}
		if !errors.Is(err, yarnclient.ErrUnavailable) {
			s.opts.Logger.Debug("could not read the JobManager log", "applicationId", appID, "error", err)
			return ""
		}
		select {
		case <-ctx.Done():
			s.opts.Logger.Debug("the JobManager log stayed unavailable", "applicationId", appID, "error", err)
			return ""
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// maxArchiveSize bounds how much of a job archive is read.
const maxArchiveSize = 16 << 20

// archivedFailure reads a failed job's root exception from the archive its JobManager wrote to HDFS
// before the cluster ended; "" when there is none.
func (s *JobService) archivedFailure(ctx context.Context, jobID string) string {
	b := s.readArchive(ctx, jobID)
	if b == nil {
		return ""
	}
	msg, err := jobmanager.ArchivedRootException(b, jobID)
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "could not decode a job archive", "jobId", jobID, "error", err)
	}
	return msg
}

// readArchive reads the archive a JobManager wrote for an ended job; nil when there is none.
func (s *JobService) readArchive(ctx context.Context, jobID string) []byte {
	name := path.Join(s.archiveDir(), jobID)
	r, err := s.opts.Files.Open(ctx, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.opts.Logger.WarnContext(ctx, "could not read a job archive", "path", name, "error", err)
		}
		return nil
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxArchiveSize))
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "could not read a job archive", "path", name, "error", err)
		return nil
	}
	return b
}

// links returns the job's web addresses: the YARN application page and, while a JobManager runs, the
// Flink UI through the ResourceManager's web proxy and the JobManager's REST base.
func (s *JobService) links(appID, jmURL string) api.JobLinks {
	rm, _ := s.opts.RM.ActiveRM()
	base := strings.TrimRight(rm.URL, "/")
	l := api.JobLinks{YARN: base + "/cluster/app/" + appID}
	if jmURL != "" {
		l.FlinkUI = ptr(base + "/proxy/" + appID + "/")
		l.JobManager = ptr(jmURL)
	}
	return l
}

// tagValue returns the value of the application tag with prefix, or "".
func tagValue(app *yarnclient.App, prefix string) string {
	for _, t := range app.ApplicationTags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			return v
		}
	}
	return ""
}

// cleanupLoop removes the launch files of ended applications. Flink removes them itself when a cluster
// shuts down normally; a killed or crashed cluster leaves them behind.
func (s *JobService) cleanupLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-s.cleanups:
			dir := path.Join(s.opts.StagingRoot, ".flink", id)
			rmCtx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.opts.Files.RemoveAll(rmCtx, dir)
			cancel()
			if err != nil {
				s.opts.Logger.Warn("could not remove the staging files of an ended job", "applicationId", id, "error", err)
				s.tracker.release(id, claimCleanup)
			}
		}
	}
}

// jobTracker remembers what the gateway has seen of each job: when its state last changed, and its
// terminal state once reached (it never changes, whatever a later report says; the YARN fields still
// follow the application until YARN has ended it too). It forgets ended jobs after retention.
type jobTracker struct {
	retention time.Duration

	mu         sync.Mutex
	jobs       map[string]*trackedJob
	lastExpiry time.Time
}

type trackedJob struct {
	state     api.JobState
	updatedAt time.Time
	final     *api.Job
	claims    map[claimKind]bool // background work claimed or done
}

// claimKind names background work done once per ended job.
type claimKind int

const (
	claimCleanup claimKind = iota
	claimDiagnosis
)

func newJobTracker() *jobTracker {
	return &jobTracker{retention: 24 * time.Hour, jobs: map[string]*trackedJob{}}
}

// observe records a freshly derived job and returns it with UpdatedAt and Terminal set; once a job was
// terminal, the first terminal snapshot is returned instead.
func (t *jobTracker) observe(job api.Job) api.Job {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	tj := t.jobs[job.ID]
	if tj == nil {
		tj = &trackedJob{state: job.State, updatedAt: now}
		t.jobs[job.ID] = tj
	}
	if tj.final != nil {
		// The state stays; YARN's own fields and a failure read later (from the job archive) catch up.
		if !yarnclient.AppState(tj.final.YARN.State).Terminal() {
			tj.final.YARN = job.YARN
		}
		if tj.final.Flink.Failure == nil {
			tj.final.Flink.Failure = job.Flink.Failure
		}
		return *tj.final
	}
	if tj.state != job.State {
		tj.state, tj.updatedAt = job.State, now
	}
	job.UpdatedAt = tj.updatedAt
	job.Terminal = job.State.Terminal()
	if job.Terminal {
		final := job
		final.Links.FlinkUI, final.Links.JobManager = nil, nil
		tj.final = &final
		return final
	}
	return job
}

// terminal returns the final snapshot of a job that ended.
func (t *jobTracker) terminal(id string) (api.Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tj := t.jobs[id]; tj != nil && tj.final != nil && yarnclient.AppState(tj.final.YARN.State).Terminal() {
		return *tj.final, true
	}
	return api.Job{}, false
}

// final returns the final snapshot of a job that ended, whatever YARN's state (session jobs end while
// their session's application runs on).
func (t *jobTracker) final(id string) (api.Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tj := t.jobs[id]; tj != nil && tj.final != nil {
		return *tj.final, true
	}
	return api.Job{}, false
}

// last returns the last state seen of a job.
func (t *jobTracker) last(id string) (api.JobState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tj := t.jobs[id]; tj != nil {
		return tj.state, true
	}
	return "", false
}

// setFailure records the failure of an ended job found after it ended.
func (t *jobTracker) setFailure(id, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tj := t.jobs[id]; tj != nil && tj.final != nil && tj.final.Flink.Failure == nil {
		tj.final.Flink.Failure = &msg
	}
}

// claim reports whether the caller should do the background work of this kind for the job (once per
// job, unless released).
func (t *jobTracker) claim(id string, kind claimKind) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	tj := t.jobs[id]
	if tj == nil || tj.claims[kind] {
		return false
	}
	if tj.claims == nil {
		tj.claims = map[claimKind]bool{}
	}
	tj.claims[kind] = true
	return true
}

// release gives up a claim, so that a later observation claims the work again.
func (t *jobTracker) release(id string, kind claimKind) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tj := t.jobs[id]; tj != nil {
		delete(tj.claims, kind)
	}
}

// expire forgets terminal jobs whose state has not changed for retention, sweeping at most once a
// minute. Called with mu held.
func (t *jobTracker) expire(now time.Time) {
	if now.Sub(t.lastExpiry) < time.Minute {
		return
	}
	t.lastExpiry = now
	for id, tj := range t.jobs {
		if tj.final != nil && now.Sub(tj.updatedAt) > t.retention {
			delete(t.jobs, id)
		}
	}
}
