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
	{"flinkConfig", admitFlinkConfig},
	{"jobs", admitJobs},
	{"high-availability", admitHA},
	{"archive", admitArchive},
	{"queue", admitQueue},
}

// admitFlinkConfig refuses the flinkConfig keys a request may not set (flink.CheckFlinkConfig: keys that reach
// the containers' launch scripts, and those the gateway relies on), each a problem of its own.
func admitFlinkConfig(_ context.Context, _ *Launcher, p *Prepared) error {
	var se api.SpecError
	for _, fe := range flink.CheckFlinkConfig(p.launch.FlinkConfig) {
		se.Add(fe.Field, "%s", fe.Reason)
	}
	return se.OrNil()
}

// haOptedOut reports whether the configuration opts out of JobManager high availability (high-availability.type:
// none, the only HA key a request may set).
func haOptedOut(cfg map[string]string) bool {
	v, ok := cfg["high-availability.type"]
	return ok && strings.EqualFold(strings.TrimSpace(v), "none")
}

// admitJobs decides between one job and several. An application job runs one Flink job by default: its
// job id is fixed (known before the cluster starts) and a failing main() becomes a FAILED job
// (execution.submit-failed-job-on-application-error, possible because the id is fixed). With several jobs
// Flink allows neither a fixed job id nor JobManager HA: the application is tagged so.
func admitJobs(_ context.Context, _ *Launcher, p *Prepared) error {
	if p.launch.Mode != flink.ModeApplication {
		return nil
	}
	if !p.multi {
		p.gatewayConfig()["execution.submit-failed-job-on-application-error"] = "true"
		return nil
	}
	p.launch.Tags = append(p.launch.Tags, ident.TagMultipleJobs)
	return nil
}

// admitHA decides the HA of a launch. Without gateway HA, with several jobs, or when flinkConfig opts out
// (high-availability.type: none), nothing changes. Otherwise the launch gets ZooKeeper HA under the gateway's
// quorum, path root and storage directory, its session timeout, and the HA tag.
func admitHA(_ context.Context, l *Launcher, p *Prepared) error {
	ha := l.opts.HA
	if ha == nil || p.multi || haOptedOut(p.launch.FlinkConfig) {
		return nil
	}
	storage := ha.StorageDir
	if !strings.Contains(storage, "://") {
		storage = l.opts.Files.URI(storage)
	}
	p.launch.HA = &flink.HighAvailability{Quorum: ha.Quorum, PathRoot: ha.PathRoot, StorageDir: storage}
	if ha.SessionTimeout > 0 {
		// Milliseconds: Flink 1.20 and 2.x read a bare number of this duration option as ms.
		p.gatewayConfig()["high-availability.zookeeper.client.session-timeout"] = strconv.FormatInt(ha.SessionTimeout.Milliseconds(), 10)
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
	p.gatewayConfig()["jobmanager.archive.fs.dir"] = l.opts.Files.URI(l.archiveDir())
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

// gatewayConfig returns the launch's GatewayConfig, made on first use.
func (p *Prepared) gatewayConfig() map[string]string {
	if p.launch.GatewayConfig == nil {
		p.launch.GatewayConfig = map[string]string{}
	}
	return p.launch.GatewayConfig
}
