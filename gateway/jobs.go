package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/yarnclient"
)

// rmClient is what the job service needs from the ResourceManager; *yarnclient.Client implements it.
type rmClient interface {
	NewApplication(ctx context.Context) (*yarnclient.NewApplication, error)
	Submit(ctx context.Context, sc *yarnclient.SubmissionContext) error
	App(ctx context.Context, id string) (*yarnclient.App, error)
	Apps(ctx context.Context, f yarnclient.AppsFilter) ([]yarnclient.App, error)
	Kill(ctx context.Context, id, diagnostics string) (yarnclient.AppState, error)
	Queues(ctx context.Context) (yarnclient.Queues, error)
	ActiveRM() (yarnclient.RM, bool)
	ContainerLog(ctx context.Context, amContainerLogs, file string, tailBytes int64) (string, error)
}

// jarGetter finds staged jars; *hdfs.Store implements it.
type jarGetter interface {
	Get(ctx context.Context, id string) (hdfs.Jar, error)
}

// Errors of the job service, rendered by classify.
var (
	// ErrJobNotFound: no job with this id.
	ErrJobNotFound = errors.New("job not found")
	// ErrJarNotFound: the job names a jar that is not staged.
	ErrJarNotFound = errors.New("jar not found")
	// ErrIdempotencyKeyReused: an Idempotency-Key came back with a different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrUnknownQueue: the scheduler has no such leaf queue.
	ErrUnknownQueue = errors.New("unknown queue")
	// ErrYARNRejected: the ResourceManager refused the application.
	ErrYARNRejected = errors.New("yarn rejected the application")
)

// Application tags that mark and describe the gateway's applications. The ResourceManager lower-cases
// tags; every value here is lower-case already.
const (
	tagGateway      = "yarngate"
	tagTargetPrefix = "yarngate-target:"
	tagFlinkPrefix  = "yarngate-flink:"
	tagIdemPrefix   = "yarngate-idem:"
	tagSpecPrefix   = "yarngate-spec:"
	tagHomePrefix   = "yarngate-home:"
)

// JobServiceOptions configures a JobService.
type JobServiceOptions struct {
	// RM is the ResourceManager client. Required.
	RM rmClient
	// Files is HDFS access. Required.
	Files fileStore
	// Jars finds staged jars. Required.
	Jars jarGetter
	// FlinkHomes are the local Flink distributions; DefaultFlinkVersion picks the default among them.
	FlinkHomes          []string
	DefaultFlinkVersion string
	// FlinkLibRoot is the HDFS directory distributions are uploaded to. Required.
	FlinkLibRoot string
	// User is the Hadoop user the clusters act as. Required.
	User string
	// StagingRoot is the absolute HDFS directory under which launch files go (<root>/.flink/<appId>).
	StagingRoot string
	// YarnClasspath is yarn.application.classpath from yarn-site.xml; nil means Hadoop's default.
	YarnClasspath []string
	// MinAllocationMB is yarn.scheduler.minimum-allocation-mb.
	MinAllocationMB int64
	// Defaults for jobs that name none.
	JobManagerMemory, TaskManagerMemory string
	TaskManagerSlots                    int
	// MaxWait caps long polls.
	MaxWait time.Duration
	// JobManagerTimeout bounds one JobManager REST call. Default 5s.
	JobManagerTimeout time.Duration
	// SessionStopGrace is how long a session may take to shut down through its JobManager before its
	// application is killed. Default 30s.
	SessionStopGrace time.Duration
	// HA, when set, launches every cluster with ZooKeeper high availability (see JobManagerHA); a job opts
	// out with flinkConfig high-availability.type: none.
	HA *JobManagerHA
	// Leaders, when set, follows the JobManager leaders of HA clusters in ZooKeeper under HA.PathRoot; job
	// and session views, cancels, stops and session runs then talk to the leader (see jobManagerURL).
	Leaders jobManagerLeaders
	// Logger and Metrics are required.
	Logger  *slog.Logger
	Metrics *Metrics
}

// JobService launches Flink jobs and session clusters on YARN and reports their state. YARN is the record
// of truth: an application job's id is its application id, a session's id is its application id, a session
// job's id is "<session id>.<Flink job id>", and the applications' tags carry what the gateway needs to find
// and describe them again, also after a restart. It is safe for concurrent use; Close stops its background
// work (clean-up, failure diagnosis, session shutdowns).
type JobService struct {
	opts     JobServiceOptions
	dists    *distRegistry
	jmHTTP   *http.Client // short JobManager calls (JobManagerTimeout)
	jmStream *http.Client // jar uploads and runs, bounded by their contexts
	tracker  *jobTracker
	sessions *sessionRegistry
	keys     keyLocks
	// answered holds, per application id, the last "<amURL> <leader>" pair whose leader answered while YARN
	// named another address (such as localhost for 127.0.0.1), so that it is not asked again each view.
	answered sync.Map

	cleanups  chan string    // application ids whose staging files to remove
	diagnoses chan diagnosis // failed jobs whose failure to find
	bg        context.Context
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// NewJobService opens the Flink distributions and starts the background workers (staging clean-up and
// failure diagnosis).
func NewJobService(opts JobServiceOptions) (*JobService, error) {
	if opts.RM == nil || opts.Files == nil || opts.Jars == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, errors.New("job service: RM, Files, Jars, Logger and Metrics are required")
	}
	if opts.User == "" || !path.IsAbs(opts.StagingRoot) || !path.IsAbs(opts.FlinkLibRoot) {
		return nil, errors.New("job service: User, an absolute StagingRoot and FlinkLibRoot are required")
	}
	if opts.JobManagerTimeout == 0 {
		opts.JobManagerTimeout = 5 * time.Second
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 5 * time.Minute
	}
	if opts.SessionStopGrace == 0 {
		opts.SessionStopGrace = 30 * time.Second
	}
	dists, err := newDistRegistry(opts.Files, opts.FlinkLibRoot, opts.FlinkHomes, opts.DefaultFlinkVersion)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &JobService{
		opts: opts, dists: dists, tracker: newJobTracker(), sessions: newSessionRegistry(),
		jmHTTP: &http.Client{Timeout: opts.JobManagerTimeout}, jmStream: &http.Client{},
		cleanups: make(chan string, 256), diagnoses: make(chan diagnosis, 256), bg: ctx, stop: stop,
	}
	s.done.Go(func() { s.cleanupLoop(ctx) })
	s.done.Go(func() { s.diagnoseLoop(ctx) })
	return s, nil
}

// Close stops the background workers; work still queued is left to the next observation.
func (s *JobService) Close() {
	s.stop()
	s.done.Wait()
}

// FlinkVersions lists the configured distributions.
func (s *JobService) FlinkVersions() []string { return s.dists.versions() }

// Submit launches a job. With an idempotency key, a request that was already launched (also by an
// earlier gateway process) returns that job and created=false; the same key with a different request is
// ErrIdempotencyKeyReused. Nothing is left behind when the launch fails.
func (s *JobService) Submit(ctx context.Context, req api.JobRequest, idempotencyKey string) (job api.Job, created bool, err error) {
	start := time.Now()
	defer func() { s.opts.Metrics.observeSubmission(err, created, time.Since(start)) }()

	flinkConfig, err := normalizeJobRequest(&req)
	if err != nil {
		return api.Job{}, false, err
	}
	if req.Target == targetSession {
		return s.submitToSession(ctx, req, idempotencyKey)
	}
	dist, err := s.dists.resolve(req.FlinkVersion)
	if err != nil {
		return api.Job{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "flinkVersion", Reason: err.Error()}}}
	}
	var tags []string
	if idempotencyKey != "" {
		unlock, err := s.keys.lock(ctx, idempotencyKey)
		if err != nil {
			return api.Job{}, false, err
		}
		defer unlock()
		idem, spec := idempotencyTags(idempotencyKey, jobRequestFingerprint(&req))
		if job, found, err := s.findByTag(ctx, idem, spec); err != nil || found {
			return job, false, err
		}
		tags = append(tags, idem, spec)
	}
	jar, err := s.resolveJar(ctx, &req)
	if err != nil {
		return api.Job{}, false, err
	}
	libs, na, err := s.prepareLaunch(ctx, req.Queue, dist)
	if err != nil {
		return api.Job{}, false, err
	}
	jobID, err := flinkJobID(na.ApplicationID)
	if err != nil {
		return api.Job{}, false, err
	}
	// A failing main() becomes a FAILED job (possible because the job id is fixed), and every ended job is
	// archived to HDFS with its exceptions, so that the failure can be reported after the cluster is gone.
	setDefault(flinkConfig, "execution.submit-failed-job-on-application-error", "true")
	setDefault(flinkConfig, "jobmanager.archive.fs.dir", s.opts.Files.URI(s.archiveDir()))
	spec := s.launchSpec(req, flinkConfig, dist, libs, jar, na)
	spec.JobID = jobID
	spec.Tags = append([]string{tagGateway, s.homeTag(), tagTargetPrefix + req.Target, tagFlinkPrefix + dist.Version.Raw}, tags...)
	if err := s.launch(ctx, spec); err != nil {
		return api.Job{}, false, err
	}
	s.opts.Logger.InfoContext(ctx, "job launched", "requestId", RequestID(ctx), "applicationId", na.ApplicationID,
		"flinkJobId", jobID, "flink", dist.Version.Raw, "name", req.Name, "jar", jar.URI)
	job, err = s.Job(ctx, na.ApplicationID)
	if err != nil {
		// Launched, but the first report failed: describe it from what was submitted.
		job = s.tracker.observe(api.Job{ID: na.ApplicationID, Name: req.Name, Target: req.Target, State: api.StateSubmitted,
			YARN:  api.JobYARN{ApplicationID: na.ApplicationID, State: string(yarnclient.StateSubmitted), User: s.opts.User},
			Flink: api.JobFlink{JobID: jobID, Version: dist.Version.Raw}, Links: s.links(na.ApplicationID, ""),
			CreatedAt: time.Now()})
	}
	return job, true, nil
}

// prepareLaunch does what every launch needs before its plan: the queue is known to the scheduler, the
// Flink distribution is in HDFS, and YARN has given an application id.
func (s *JobService) prepareLaunch(ctx context.Context, queue string, dist *flink.Dist) (*flink.ProvidedLibs, *yarnclient.NewApplication, error) {
	if err := s.checkQueue(ctx, queue); err != nil {
		return nil, nil, err
	}
	libs, err := s.dists.libs(ctx, dist)
	if err != nil {
		return nil, nil, fmt.Errorf("upload flink %s: %w", dist.Version, err)
	}
	na, err := s.opts.RM.NewApplication(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("new application: %w", err)
	}
	return libs, na, nil
}

// launch stages the configuration and submits; on failure it removes the staged files.
func (s *JobService) launch(ctx context.Context, spec flink.LaunchSpec) error {
	if err := s.applyHA(&spec); err != nil {
		return err
	}
	plan, err := flink.NewPlan(spec)
	if err != nil {
		return specErrorFrom(err)
	}
	stagingDir := path.Join(s.opts.StagingRoot, ".flink", spec.ApplicationID)
	cfg, err := plan.StageConfig(ctx, flinkFS{s.opts.Files})
	submitted := false // the submission reached the ResourceManager, which may have accepted it
	if err == nil {
		var sc *yarnclient.SubmissionContext
		if sc, err = plan.Submission(cfg); err == nil {
			submitted = true
			err = s.opts.RM.Submit(ctx, sc)
		}
	}
	if err == nil {
		if spec.HA != nil {
			s.watchLeader(spec.ApplicationID)
		}
		return nil
	}
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rmErr := s.opts.Files.RemoveAll(cleanCtx, stagingDir); rmErr != nil {
		s.opts.Logger.Warn("could not remove the staging files of a failed launch", "path", stagingDir, "error", rmErr)
	}
	if errors.Is(err, yarnclient.ErrBadRequest) {
		return fmt.Errorf("%w: %w", ErrYARNRejected, err)
	}
	err = fmt.Errorf("submit %s: %w", spec.ApplicationID, err)
	if submitted {
		err = &launchError{applicationID: spec.ApplicationID, err: err}
	}
	return err
}

// launchError is a launch that failed after its submission reached the ResourceManager: the application
// may exist nonetheless (a timeout, a lost answer), and the gateway reported the launch as failed.
type launchError struct {
	applicationID string
	err           error
}

func (e *launchError) Error() string { return e.err.Error() }
func (e *launchError) Unwrap() error { return e.err }

func (s *JobService) launchSpec(req api.JobRequest, cfg map[string]string, dist *flink.Dist, libs *flink.ProvidedLibs,
	jar resolvedJar, na *yarnclient.NewApplication) flink.LaunchSpec {
	spec := flink.LaunchSpec{
		Dist: dist, Libs: libs, ApplicationID: na.ApplicationID, Mode: flink.ModeApplication,
		UserJar:    flink.RemoteFile{URI: jar.URI, Size: jar.Size, ModTime: jar.ModTime},
		EntryClass: req.EntryClass, Args: append([]string{}, req.Args...), FlinkConfig: cfg,
		Queue: req.Queue, Name: req.Name, User: s.opts.User,
		StagingDir:       s.opts.Files.URI(s.opts.StagingRoot),
		YarnClasspath:    s.opts.YarnClasspath,
		MinAllocationMB:  s.opts.MinAllocationMB,
		MaxResource:      &na.MaximumResourceCapability,
		JobManagerMemory: s.opts.JobManagerMemory, TaskManagerMemory: s.opts.TaskManagerMemory,
		TaskManagerSlots: s.opts.TaskManagerSlots,
	}
	if req.Parallelism != nil {
		spec.Parallelism = *req.Parallelism
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
	if req.Savepoint != nil {
		spec.Savepoint = &flink.Savepoint{Path: req.Savepoint.Path, AllowNonRestoredState: req.Savepoint.AllowNonRestoredState}
	}
	return spec
}

// resolvedJar is the program jar of a launch.
type resolvedJar struct {
	URI     string
	Size    int64
	ModTime int64
}

// resolveJar finds the staged jar and fills in the entry class from its manifest when the request has
// none.
func (s *JobService) resolveJar(ctx context.Context, req *api.JobRequest) (resolvedJar, error) {
	if req.JarID != "" {
		if !hdfs.ValidID(req.JarID) {
			return resolvedJar{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "jarId", Reason: "a jar id is 64 lower-case hex digits"}}}
		}
		jar, err := s.opts.Jars.Get(ctx, req.JarID)
		if errors.Is(err, hdfs.ErrNotFound) {
			return resolvedJar{}, fmt.Errorf("%w: %s", ErrJarNotFound, req.JarID)
		}
		if err != nil {
			return resolvedJar{}, fmt.Errorf("look up jar: %w", err)
		}
		if req.EntryClass == "" {
			req.EntryClass = jar.MainClass
		}
		if req.EntryClass == "" {
			return resolvedJar{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "entryClass", Reason: "required: the jar's manifest has no Main-Class"}}}
		}
		return resolvedJar{URI: jar.URI, Size: jar.Size, ModTime: jar.ModTime.UnixMilli()}, nil
	}
	u, _ := url.Parse(req.JarPath) // checked by normalize
	if fsu, _ := url.Parse(s.opts.Files.FSURI()); u.Host != "" && u.Host != fsu.Host {
		return resolvedJar{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "jarPath", Reason: "must be on the gateway's file system " + s.opts.Files.FSURI()}}}
	}
	fi, info, err := s.opts.Files.Inspect(ctx, u.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return resolvedJar{}, fmt.Errorf("%w: %s", ErrJarNotFound, req.JarPath)
	case errors.Is(err, hdfs.ErrInvalidJar):
		return resolvedJar{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "jarPath", Reason: "not a valid jar"}}}
	case err != nil:
		return resolvedJar{}, fmt.Errorf("inspect %s: %w", req.JarPath, err)
	}
	if req.EntryClass == "" {
		req.EntryClass = info.MainClass
	}
	if req.EntryClass == "" {
		return resolvedJar{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "entryClass", Reason: "required: the jar's manifest has no Main-Class"}}}
	}
	return resolvedJar{URI: s.opts.Files.URI(u.Path), Size: fi.Size, ModTime: fi.ModTime.UnixMilli()}, nil
}

// checkQueue refuses a queue the scheduler does not have, before anything is created.
func (s *JobService) checkQueue(ctx context.Context, queue string) error {
	if queue == "" {
		return nil
	}
	q, err := s.opts.RM.Queues(ctx)
	if err != nil {
		return fmt.Errorf("read queues: %w", err)
	}
	if !q.Known(queue) {
		return fmt.Errorf("%w: %q is not a leaf queue of the %s", ErrUnknownQueue, queue, q.Scheduler)
	}
	return nil
}

// specErrorFrom turns the launch builder's field errors into a api.SpecError; other errors pass through.
func specErrorFrom(err error) error {
	if !errors.Is(err, flink.ErrInvalidSpec) {
		return err
	}
	var se api.SpecError
	var walk func(error)
	walk = func(e error) {
		var fe *flink.FieldError
		if errors.As(e, &fe) && e == error(fe) {
			se.Add(fe.Field, "%s", fe.Reason)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	walk(err)
	if len(se.Problems) == 0 {
		se.Add("spec", "%v", err)
	}
	return &se
}

// homeTag marks the applications of this gateway installation (its staging root), so that installations
// sharing a YARN cluster reconcile only their own.
func (s *JobService) homeTag() string {
	sum := sha256.Sum256([]byte(s.opts.Files.URI(s.opts.StagingRoot)))
	return tagHomePrefix + hex.EncodeToString(sum[:8])
}

// haDir is the HDFS directory under which launched clusters keep their ZooKeeper HA data
// (high-availability.storageDir), one directory per cluster id (the application id); "" without HA.
func (s *JobService) haDir() string {
	if s.opts.HA == nil {
		return ""
	}
	return s.opts.HA.StorageDir
}

// archiveDir is where JobManagers archive ended jobs (jobmanager.archive.fs.dir).
func (s *JobService) archiveDir() string { return path.Join(s.opts.StagingRoot, "archive") }

func setDefault(m map[string]string, key, value string) {
	if _, ok := m[key]; !ok {
		m[key] = value
	}
}

// idempotencyTags returns the tags that record an idempotency key and the request it came with.
func idempotencyTags(key, fingerprint string) (idem, spec string) {
	sum := sha256.Sum256([]byte(key))
	return tagIdemPrefix + hex.EncodeToString(sum[:20]), tagSpecPrefix + fingerprint
}

// findByTag looks for the application launched earlier for an idempotency key.
func (s *JobService) findByTag(ctx context.Context, idemTag, specTag string) (api.Job, bool, error) {
	apps, err := s.opts.RM.Apps(ctx, yarnclient.AppsFilter{ApplicationTags: []string{idemTag}})
	if err != nil {
		return api.Job{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(idemTag) || app.HasTag(tagKindSession) {
			continue
		}
		if !app.HasTag(specTag) {
			return api.Job{}, false, fmt.Errorf("%w (application %s)", ErrIdempotencyKeyReused, app.ID)
		}
		job, err := s.describe(ctx, app)
		return job, true, err
	}
	return api.Job{}, false, nil
}

// keyLocks serialises requests that carry the same idempotency key within this process.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// lock waits (bounded by ctx) until no other request holds key, and returns the unlock function.
func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	for {
		k.mu.Lock()
		if k.locks == nil {
			k.locks = map[string]chan struct{}{}
		}
		held, busy := k.locks[key]
		if !busy {
			ch := make(chan struct{})
			k.locks[key] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.locks, key)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a request with the same idempotency key: %w", ctx.Err())
		}
	}
}
