package launch

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/ident"
)

// A step of admission: it checks a prepared launch and completes it (configuration, tags, HA). Steps run in
// order; the first error refuses the launch before anything exists in YARN.
type step struct {
	name  string
	admit func(ctx context.Context, l *Launcher, p *Prepared) error
}

// admission is the pipeline every launch goes through.
var admission = []step{
	{"jobs", admitJobs},
	{"high-availability", admitHA},
	{"archive", admitArchive},
	{"queue", admitQueue},
}

// haTypeKeys are the keys that choose Flink's HA services, newest first (HighAvailabilityOptions).
var haTypeKeys = []string{"high-availability.type", "high-availability", "recovery.mode"}

// haOwnedKeys are the HA keys a job may not set while the gateway runs its cluster with ZooKeeper HA: they
// decide where the gateway finds the JobManager leader.
var haOwnedKeys = []string{"high-availability.zookeeper.quorum", "high-availability.zookeeper.path.root", "high-availability.cluster-id"}

// haType returns the HA services the configuration names, "" when it names none.
func haType(cfg map[string]string) string {
	for _, k := range haTypeKeys {
		if v, ok := cfg[k]; ok {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// admitJobs decides between one job and several. An application job runs one Flink job by default: its
// job id is fixed (known before the cluster starts) and a failing main() becomes a FAILED job
// (execution.submit-failed-job-on-application-error, possible because the id is fixed). With several jobs
// Flink allows neither a fixed id nor JobManager HA: the application is tagged so, and a request that also
// asks for HA is refused.
func admitJobs(_ context.Context, _ *Launcher, p *Prepared) error {
	if p.launch.Mode != flink.ModeApplication {
		return nil
	}
	if !p.multi {
		setDefault(p.launch.FlinkConfig, "execution.submit-failed-job-on-application-error", "true")
		return nil
	}
	var se api.SpecError
	if t := haType(p.launch.FlinkConfig); t != "" && t != "none" {
		se.Add("multipleJobs", "Flink runs several jobs in one application only without JobManager high availability "+
			"(flinkConfig high-availability.type is %q)", t)
	}
	if _, ok := p.launch.FlinkConfig["execution.submit-failed-job-on-application-error"]; ok {
		se.Add("flinkConfig.execution.submit-failed-job-on-application-error", "cannot be set with multipleJobs: Flink then allows one job only")
	}
	if err := se.OrNil(); err != nil {
		return err
	}
	p.launch.Tags = append(p.launch.Tags, ident.TagMultipleJobs)
	return nil
}

// admitHA decides the HA of a launch. Without gateway HA, with several jobs, or when flinkConfig names HA
// services of its own (high-availability.type: none opts out; another type is the job's business), nothing
// changes. Otherwise the launch gets ZooKeeper HA, the session timeout unless it sets one, and the HA tag.
func admitHA(_ context.Context, l *Launcher, p *Prepared) error {
	ha := l.opts.HA
	if ha == nil || p.multi {
		return nil
	}
	if t := haType(p.launch.FlinkConfig); t != "" && t != "zookeeper" {
		return nil
	}
	cfg := p.launch.FlinkConfig
	var se api.SpecError
	for _, k := range haOwnedKeys {
		if _, ok := cfg[k]; ok {
			se.Add("flinkConfig."+k, "is set by the gateway for high availability (high-availability.type: none opts out)")
		}
	}
	if err := se.OrNil(); err != nil {
		return err
	}
	storage := ha.StorageDir
	if v, ok := cfg["high-availability.storageDir"]; ok {
		storage = v
	} else if !strings.Contains(storage, "://") {
		storage = l.opts.Files.URI(storage)
	}
	p.launch.HA = &flink.HighAvailability{Quorum: ha.Quorum, PathRoot: ha.PathRoot, StorageDir: storage}
	if ha.SessionTimeout > 0 {
		// Milliseconds: Flink 1.20 and 2.x read a bare number of this duration option as ms.
		setDefault(cfg, "high-availability.zookeeper.client.session-timeout", strconv.FormatInt(ha.SessionTimeout.Milliseconds(), 10))
	}
	p.launch.Tags = append(p.launch.Tags, ident.TagHA)
	return nil
}

// admitArchive makes every ended job archived to HDFS with its exceptions, so that its outcome and failure
// can be reported after its cluster is gone. (An application with several jobs gets a directory of its own
// at submission, when its id is known.)
func admitArchive(_ context.Context, l *Launcher, p *Prepared) error {
	if p.multi {
		return nil
	}
	setDefault(p.launch.FlinkConfig, "jobmanager.archive.fs.dir", l.opts.Files.URI(l.archiveDir()))
	return nil
}

// admitQueue refuses a queue the scheduler does not have.
func admitQueue(ctx context.Context, l *Launcher, p *Prepared) error {
	if p.launch.Queue == "" {
		return nil
	}
	q, err := l.opts.RM.Queues(ctx)
	if err != nil {
		return fmt.Errorf("read queues: %w", err)
	}
	if !q.Known(p.launch.Queue) {
		return fmt.Errorf("%w: %q is not a leaf queue of the %s", ErrUnknownQueue, p.launch.Queue, q.Scheduler)
	}
	return nil
}

func setDefault(m map[string]string, key, value string) {
	if _, ok := m[key]; !ok {
		m[key] = value
	}
}
