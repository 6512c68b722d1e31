// Package launch starts Flink clusters on YARN the way Flink's own client does, without Java: it keeps the
// catalogue of Flink distributions (each uploaded to HDFS once), resolves a job's jar and entry class, runs
// the admission steps (named hooks: the flinkConfig keys a request may set, several jobs or one, JobManager HA,
// job archives, queue), builds the launch plan (flink.NewPlan), stages its configuration, submits the
// application and undoes a launch that failed. It also runs jobs in a running session's JobManager. It reports nothing about state: that is
// package observe's and package reconcile's.
//
// Dependency rule: launch uses the client packages (yarnclient, hdfs, flink, flink/jobmanager), ident and
// api (for SpecError); it never imports the service (job), the reconciler or the HTTP layer.
package launch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/delegation"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/yarnclient"
)

// rmClient is what launches need of the ResourceManager; *yarnclient.Client implements it.
type rmClient interface {
	NewApplication(ctx context.Context) (*yarnclient.NewApplication, error)
	Submit(ctx context.Context, sc *yarnclient.SubmissionContext) error
	App(ctx context.Context, id string) (*yarnclient.App, error)
	Apps(ctx context.Context, f yarnclient.AppsFilter) ([]yarnclient.App, error)
	Queues(ctx context.Context) (yarnclient.Queues, error)
}

// jarGetter finds staged jars; *hdfs.Store implements it.
type jarGetter interface {
	Get(ctx context.Context, id string) (hdfs.Jar, error)
}

// Errors of launches.
var (
	// ErrJarNotFound: the job names a jar that is not staged.
	ErrJarNotFound = errors.New("jar not found")
	// ErrUnknownQueue: the scheduler has no such leaf queue.
	ErrUnknownQueue = errors.New("unknown queue")
	// ErrYARNRejected: the ResourceManager refused the application.
	ErrYARNRejected = errors.New("yarn rejected the application")
)

// HA configures ZooKeeper high availability of the launched clusters. With it, YARN restarts a JobManager
// that dies in a new application attempt, the job recovers from its last checkpoint, and the gateway
// follows the new JobManager through its leader znode.
type HA struct {
	// Quorum is the ZooKeeper connect string the JobManagers use (high-availability.zookeeper.quorum).
	Quorum string
	// PathRoot is high-availability.zookeeper.path.root; the gateway's leader tracking follows the same root.
	PathRoot string
	// StorageDir is high-availability.storageDir: an absolute HDFS path (qualified with the gateway's file
	// system) or a URI.
	StorageDir string
	// SessionTimeout is high-availability.zookeeper.client.session-timeout unless the job sets it: how long
	// a dead JobManager's leader znode stays, and so how long the next attempt waits to take over.
	SessionTimeout time.Duration
}

// tokenSource obtains HDFS delegation tokens; *delegation.Fetcher implements it.
type tokenSource interface {
	HDFSToken(ctx context.Context, user string) (delegation.Token, error)
	Renewer() string
}

// Kerberos configures launches on a Kerberized cluster. Each launch gets a new HDFS delegation token of its
// user, renewable by the ResourceManager (which renews it until its maximum lifetime and cancels it when the
// application ends), and the Kerberos configuration its JVMs need.
type Kerberos struct {
	// Tokens obtains the tokens. Required.
	Tokens tokenSource
	// Krb5Conf is shipped to the containers as krb5.conf; nil ships none (the nodes have their own).
	Krb5Conf []byte
}

// Keytab is a user's keytab a cluster on a Kerberized Hadoop logs in with (Flink's security.kerberos.login.*),
// so that it obtains new delegation tokens itself when the one it was launched with reaches its maximum
// lifetime. Its principal must map to the launch's user.
type Keytab struct {
	// Principal is the principal to log in as, name[/instance]@REALM.
	Principal string
	// Data is the keytab file.
	Data []byte
}

// ErrCredentials: the launch's delegation token could not be obtained.
var ErrCredentials = errors.New("no delegation token for the launch")

// Options configure a Launcher.
type Options struct {
	// RM, Files and Jars are required.
	RM    rmClient
	Files fileStore
	Jars  jarGetter
	// FlinkHomes are the local Flink distributions; DefaultFlinkVersion picks the default among them.
	FlinkHomes          []string
	DefaultFlinkVersion string
	// FlinkLibRoot is the HDFS directory distributions are uploaded to. Required.
	FlinkLibRoot string
	// User is the gateway's own Hadoop user: the user of launches whose Spec names none. Required.
	User string
	// RMUser is who the gateway is to the ResourceManager and the NameNode (the principal's short name under
	// Kerberos; default User). An application launched for another user grants it view and modify access
	// (yarn.view.acls, yarn.modify.acls), so that on a cluster with yarn.acl.enable the gateway still reads
	// the application's full report and can kill it.
	RMUser string
	// StagingRoot is the absolute HDFS directory under which launch files go (<root>/.flink/<appId>). Required.
	StagingRoot string
	// YarnClasspath is yarn.application.classpath from yarn-site.xml; nil means Hadoop's default.
	YarnClasspath []string
	// MinAllocationMB is yarn.scheduler.minimum-allocation-mb.
	MinAllocationMB int64
	// Defaults for launches that name none.
	JobManagerMemory, TaskManagerMemory string
	TaskManagerSlots                    int
	// HA, when set, launches clusters with ZooKeeper high availability (a job opts out with flinkConfig
	// high-availability.type: none, or by asking for several jobs).
	HA *HA
	// Kerberos, on a Kerberized cluster, gives launches their tokens and Kerberos configuration; nil with
	// simple authentication.
	Kerberos *Kerberos
	// JobManagerTimeout bounds one short JobManager REST call. Default 5s.
	JobManagerTimeout time.Duration
	// Logger is required.
	Logger *slog.Logger
}

// Launcher launches Flink clusters and runs jobs in sessions. Safe for concurrent use.
type Launcher struct {
	opts     Options
	dists    *catalogue
	home     string
	jmHTTP   *http.Client // short JobManager calls
	jmStream *http.Client // jar uploads and runs, bounded by their contexts
	locks    keyLocks
	jars     sessionJars
	shared   sharedDirs
}

// New opens the Flink distributions.
func New(opts Options) (*Launcher, error) {
	if opts.RM == nil || opts.Files == nil || opts.Jars == nil || opts.Logger == nil {
		return nil, errors.New("launch: RM, Files, Jars and Logger are required")
	}
	if opts.User == "" || !path.IsAbs(opts.StagingRoot) || !path.IsAbs(opts.FlinkLibRoot) {
		return nil, errors.New("launch: User, an absolute StagingRoot and FlinkLibRoot are required")
	}
	if opts.JobManagerTimeout <= 0 {
		opts.JobManagerTimeout = 5 * time.Second
	}
	dists, err := newCatalogue(opts.Files, opts.FlinkLibRoot, opts.FlinkHomes, opts.DefaultFlinkVersion)
	if err != nil {
		return nil, err
	}
	return &Launcher{opts: opts, dists: dists, home: ident.HomeTag(opts.Files.URI(opts.StagingRoot)),
		jmHTTP: &http.Client{Timeout: opts.JobManagerTimeout}, jmStream: &http.Client{}}, nil
}

// FlinkVersions lists the configured distributions.
func (l *Launcher) FlinkVersions() []string { return l.dists.versions() }

// HomeTag is the tag of this installation's applications.
func (l *Launcher) HomeTag() string { return l.home }

// HADir is where launched clusters keep their HA data, one directory per application; "" without HA.
func (l *Launcher) HADir() string {
	if l.opts.HA == nil {
		return ""
	}
	return l.opts.HA.StorageDir
}

// Kind says what a launch starts.
type Kind int

// Kinds of launches.
const (
	// Job is an application cluster running one program.
	Job Kind = iota
	// Session is a session cluster that takes jobs.
	Session
)

// Spec is what a launch needs of a validated request.
type Spec struct {
	Kind Kind
	// Name is the YARN application name; Target is the job's target ("application" for jobs).
	Name, Target string
	// JarID (a staged jar) or JarPath (an hdfs:// path) names the program of a job; EntryClass its main
	// class ("" reads the manifest); Args are passed to main() exactly.
	JarID, JarPath, EntryClass string
	Args                       []string
	// MultipleJobs lets main() run several Flink jobs: no fixed job id and no JobManager HA (Flink forbids
	// several jobs with either).
	MultipleJobs bool
	// Sizing; zero values take the launcher's defaults.
	Parallelism                         int
	JobManagerMemory, TaskManagerMemory string
	TaskManagerSlots                    int
	Queue                               string
	FlinkVersion                        string
	// FlinkConfig are the job's configuration overrides, as strings.
	FlinkConfig map[string]string
	// Savepoint restores the job.
	Savepoint *flink.Savepoint
	// Tags are extra application tags (idempotency).
	Tags []string
	// Keytab, on a Kerberized cluster, is shipped for the cluster to log in with; nil ships none.
	Keytab *Keytab
	// User is the user the cluster runs as ("": the gateway's own). The application is created and
	// submitted as this user, its launch files are written as this user, and on a Kerberized cluster its
	// delegation token is this user's.
	User string
}

// Prepared is a launch that passed admission: the distribution is in HDFS, the jar and the queue are known.
// Nothing exists in YARN yet.
type Prepared struct {
	launch flink.LaunchSpec // without the application id
	multi  bool
	keytab *Keytab
	// FlinkVersion is the version the cluster will run.
	FlinkVersion string
}

// Prepare checks a launch against the cluster before anything is created: the Flink version, the jar and
// entry class, the admission steps and the queue; and makes sure the distribution is in HDFS.
func (l *Launcher) Prepare(ctx context.Context, s Spec) (*Prepared, error) {
	dist, err := l.dists.resolve(s.FlinkVersion)
	if err != nil {
		return nil, &api.SpecError{Problems: []api.FieldProblem{{Field: "flinkVersion", Reason: err.Error()}}}
	}
	if s.Keytab != nil && l.opts.Kerberos == nil {
		return nil, &api.SpecError{Problems: []api.FieldProblem{{Field: "keytabId", Reason: "the cluster does not use Kerberos: no keytab is shipped"}}}
	}
	cfg := make(map[string]string, len(s.FlinkConfig))
	for k, v := range s.FlinkConfig {
		cfg[k] = v
	}
	p := &Prepared{multi: s.MultipleJobs, keytab: s.Keytab, FlinkVersion: dist.Version.Raw, launch: flink.LaunchSpec{
		Dist: dist, Mode: flink.ModeApplication, EntryClass: s.EntryClass, Args: append([]string{}, s.Args...),
		FlinkConfig: cfg, Queue: s.Queue, Name: s.Name, User: or(s.User, l.opts.User), Parallelism: s.Parallelism,
		StagingDir:       l.opts.Files.URI(l.opts.StagingRoot),
		YarnClasspath:    l.opts.YarnClasspath,
		MinAllocationMB:  l.opts.MinAllocationMB,
		JobManagerMemory: or(s.JobManagerMemory, l.opts.JobManagerMemory), TaskManagerMemory: or(s.TaskManagerMemory, l.opts.TaskManagerMemory),
		TaskManagerSlots: s.TaskManagerSlots, Savepoint: s.Savepoint,
	}}
	if p.launch.TaskManagerSlots == 0 {
		p.launch.TaskManagerSlots = l.opts.TaskManagerSlots
	}
	p.launch.Tags = []string{ident.TagGateway, l.home, ident.TagFlinkPrefix + dist.Version.Raw}
	if s.Kind == Session {
		p.launch.Mode = flink.ModeSession
		p.launch.Tags = append(p.launch.Tags, ident.TagKindSession)
	} else {
		p.launch.Tags = append(p.launch.Tags, ident.TagTargetPrefix+s.Target)
		jar, entry, err := l.resolveJar(ctx, s.JarID, s.JarPath, s.EntryClass)
		if err != nil {
			return nil, err
		}
		p.launch.UserJar, p.launch.EntryClass = jar, entry
	}
	p.launch.Tags = append(p.launch.Tags, s.Tags...)
	for _, step := range admission {
		if err := step.admit(ctx, l, p); err != nil {
			return nil, err
		}
	}
	if p.launch.Libs, err = l.dists.libs(ctx, dist); err != nil {
		return nil, fmt.Errorf("upload flink %s: %w", dist.Version, err)
	}
	return p, nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// User is the user the prepared launch runs as.
func (p *Prepared) User() string { return p.launch.User }

// NewApplication asks YARN for an application id for a prepared launch, as the user it runs as. From here
// on, a launch must run to its end or undo itself, whatever happens to the caller.
func (l *Launcher) NewApplication(ctx context.Context, p *Prepared) (*yarnclient.NewApplication, error) {
	na, err := l.opts.RM.NewApplication(l.asUser(ctx, p.launch.User))
	if err != nil {
		return nil, fmt.Errorf("new application: %w", err)
	}
	return na, nil
}

// Launched is an application YARN has.
type Launched struct {
	ApplicationID string
	// FlinkJobID is the job id the gateway fixed; empty for an application with several jobs, and for
	// sessions.
	FlinkJobID string
	// HA says the cluster runs with ZooKeeper HA (its leader is followed in ZooKeeper).
	HA bool
	// MultipleJobs says main() may run several jobs.
	MultipleJobs bool
	// Credentials describes the delegation token the cluster was launched with (Kerberized clusters only).
	Credentials *Credentials
}

// Credentials is what a Kerberized cluster was launched with.
type Credentials struct {
	// HDFSTokenExpires is the maximum date of the submitted HDFS delegation token: a cluster without a
	// keytab loses HDFS access then, whatever the renewals.
	HDFSTokenExpires time.Time
	// Principal is the principal of the shipped keytab, "" without one.
	Principal string
}

// SubmitError is a launch that failed after its submission may have reached the ResourceManager, and that
// a look-up could not settle: the application may exist nonetheless.
type SubmitError struct {
	ApplicationID string
	Err           error
}

func (e *SubmitError) Error() string { return e.Err.Error() }
func (e *SubmitError) Unwrap() error { return e.Err }

// Submit stages the launch's configuration and submits the application under the id na gave, waiting until
// the ResourceManager has saved it. On failure it removes what it staged. A failure whose outcome is
// unknown (a timeout, a lost answer) is settled by looking the application up: found, the launch
// succeeded; not found or not answered, the error is a *SubmitError. ctx should not be a caller's: see
// NewApplication.
func (l *Launcher) Submit(ctx context.Context, p *Prepared, na *yarnclient.NewApplication) (Launched, error) {
	spec := p.launch
	spec.FlinkConfig = maps.Clone(p.launch.FlinkConfig)
	spec.GatewayConfig = maps.Clone(p.launch.GatewayConfig)
	if spec.GatewayConfig == nil {
		spec.GatewayConfig = map[string]string{}
	}
	spec.Tags = slices.Clone(p.launch.Tags)
	if spec.User != l.opts.User {
		if err := l.shared.prepare(ctx, l); err != nil {
			return Launched{}, err
		}
		rmUser := or(l.opts.RMUser, l.opts.User)
		spec.GatewayConfig["yarn.view.acls"], spec.GatewayConfig["yarn.modify.acls"] = rmUser, rmUser
	}
	ctx = l.asUser(ctx, spec.User)
	spec.ApplicationID, spec.MaxResource = na.ApplicationID, &na.MaximumResourceCapability
	out := Launched{ApplicationID: na.ApplicationID, HA: spec.HA != nil, MultipleJobs: p.multi}
	if spec.Mode == flink.ModeApplication && !p.multi {
		jobID, err := ident.FlinkJobID(na.ApplicationID)
		if err != nil {
			return Launched{}, err
		}
		spec.JobID, out.FlinkJobID = jobID, jobID
	}
	if p.multi {
		// Every job of the application is archived in a directory of its own, so that all of them can be
		// listed after the cluster is gone.
		spec.GatewayConfig["jobmanager.archive.fs.dir"] = l.opts.Files.URI(path.Join(l.archiveDir(), na.ApplicationID))
	}
	if l.opts.Kerberos != nil {
		sec, creds, err := l.security(ctx, spec.User, p.keytab)
		if err != nil {
			return Launched{}, err
		}
		spec.Security, out.Credentials = sec, creds
	}
	plan, err := flink.NewPlan(spec)
	if err != nil {
		return Launched{}, specErrorFrom(err)
	}
	stagingDir := path.Join(l.opts.StagingRoot, ".flink", spec.ApplicationID)
	staged, err := plan.Stage(ctx, flinkFS{l.opts.Files})
	reached := false // the submission reached the ResourceManager, which may have accepted it
	if err == nil {
		var sc *yarnclient.SubmissionContext
		if sc, err = plan.Submission(staged); err == nil {
			reached = true
			err = l.opts.RM.Submit(ctx, sc)
		}
	}
	if err != nil && reached && !errors.Is(err, yarnclient.ErrBadRequest) {
		if app, lerr := l.opts.RM.App(context.WithoutCancel(ctx), na.ApplicationID); lerr == nil {
			l.opts.Logger.Info("submission failed but the ResourceManager has the application; launched",
				"applicationId", na.ApplicationID, "state", app.State, "error", err)
			err = nil
		}
	}
	if err == nil {
		return out, nil
	}
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rmErr := l.opts.Files.RemoveAll(cleanCtx, stagingDir); rmErr != nil {
		l.opts.Logger.Warn("could not remove the staging files of a failed launch", "path", stagingDir, "error", rmErr)
	}
	if errors.Is(err, yarnclient.ErrBadRequest) {
		return Launched{}, fmt.Errorf("%w: %w", ErrYARNRejected, err)
	}
	err = fmt.Errorf("submit %s: %w", spec.ApplicationID, err)
	if reached {
		return Launched{}, &SubmitError{ApplicationID: spec.ApplicationID, Err: err}
	}
	return Launched{}, err
}

// security obtains a Kerberized launch's token for user and assembles what the cluster gets: with a keytab,
// also the keytab and its principal, which the cluster logs in with.
func (l *Launcher) security(ctx context.Context, user string, kt *Keytab) (*flink.Security, *Credentials, error) {
	k := l.opts.Kerberos
	tok, err := k.Tokens.HDFSToken(ctx, user)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	l.opts.Logger.Debug("delegation token obtained for a launch", "token", tok.String())
	sec := &flink.Security{Tokens: map[string]string{tok.Service: tok.Encode()}, Krb5Conf: k.Krb5Conf,
		TokenRenewer: k.Tokens.Renewer()}
	creds := &Credentials{HDFSTokenExpires: tok.MaxDate}
	if kt != nil {
		sec.Keytab, sec.Principal, creds.Principal = kt.Data, kt.Principal, kt.Principal
	}
	return sec, creds, nil
}

// FindByTags looks for the application an earlier launch submitted with an idempotency tag: nil when there
// is none; ErrSpecMismatch when it was submitted with another request.
func (l *Launcher) FindByTags(ctx context.Context, idemTag, specTag string, kind Kind) (*yarnclient.App, error) {
	apps, err := l.opts.RM.Apps(ctx, yarnclient.AppsFilter{ApplicationTags: []string{idemTag}})
	if err != nil {
		return nil, fmt.Errorf("look up idempotency key: %w", err)
	}
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(idemTag) || app.HasTag(ident.TagKindSession) != (kind == Session) {
			continue
		}
		if !app.HasTag(specTag) {
			return nil, fmt.Errorf("%w (application %s)", ErrSpecMismatch, app.ID)
		}
		return app, nil
	}
	return nil, nil
}

// ErrSpecMismatch: an application was launched under the same idempotency key for another request.
var ErrSpecMismatch = errors.New("launched under the same idempotency key for another request")

// archiveDir is where JobManagers archive ended jobs (jobmanager.archive.fs.dir).
func (l *Launcher) archiveDir() string { return path.Join(l.opts.StagingRoot, "archive") }

// SavepointRoot is the fully qualified directory under which savepoints go by default (one directory per
// job): <stagingRoot>/savepoints, a shared directory every user's cluster may write below.
func (l *Launcher) SavepointRoot() string { return l.opts.Files.FSURI() + l.savepointDir() }

func (l *Launcher) savepointDir() string { return path.Join(l.opts.StagingRoot, "savepoints") }

// specErrorFrom turns the launch builder's field errors into a SpecError; other errors pass through.
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
