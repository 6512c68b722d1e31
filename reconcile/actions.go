package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/yarnlogs"
)

// act performs the follow-up actions of an observation of record id. Slow work (removing files, searching
// logs) is queued for the workers Run owns; a full queue leaves it to a later observation or the garbage
// collection.
func (r *Reconciler) act(ctx context.Context, id string, kind observe.Kind, st observe.Status, actions []observe.Action) {
	for _, a := range actions {
		switch a.Kind {
		case observe.RemoveLaunchFiles:
			select {
			case r.removals <- a.ApplicationID:
			default:
			}
		case observe.FindFailure:
			r.seekFailure(id, kind, st, a)
		case observe.KillStalledStop:
			r.opts.Logger.Warn("a session stop did not complete; killing its application", "applicationId", a.ApplicationID)
			// As the user the application runs as: behind SPNEGO the gateway acts for the owner (doAs), whom
			// the ResourceManager's modify ACL admits.
			if _, err := r.opts.RM.Kill(yarnclient.AsUser(ctx, st.YARN.User), a.ApplicationID, "yarngate: session stop did not complete"); err != nil {
				r.opts.Logger.Warn("could not kill a session", "applicationId", a.ApplicationID, "error", err)
			}
		}
	}
}

// seekFailure queues the search for a failed job's failure, once at a time per record.
func (r *Reconciler) seekFailure(id string, kind observe.Kind, st observe.Status, a observe.Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seeking[id] {
		return
	}
	s := failureSearch{recordID: id, appID: a.ApplicationID, jobID: a.JobID, logs: a.Logs, archiveDir: r.archiveDir()}
	if kind == observe.KindSessionJob {
		s.logs = "" // the session's JobManager log holds every job's output: not this job's alone
	}
	if st.Flink.MultipleJobs {
		s.archiveDir = path.Join(r.archiveDir(), a.ApplicationID)
	}
	select {
	case r.failures <- s:
		r.seeking[id] = true
	default:
	}
}

// removeLoop removes the launch files of ended applications. Flink removes them itself when a cluster shuts
// down normally; a killed or crashed cluster leaves them behind.
func (r *Reconciler) removeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-r.removals:
			dir := path.Join(r.opts.StagingRoot, ".flink", id)
			rmCtx, cancel := context.WithTimeout(ctx, time.Minute)
			err := r.opts.Files.RemoveAll(rmCtx, dir)
			cancel()
			if err != nil {
				r.opts.Logger.Warn("could not remove the launch files of an ended application; the garbage collection will",
					"applicationId", id, "error", err)
			}
		}
	}
}

// failureTimeout bounds the search for one job's failure.
const failureTimeout = 2 * time.Minute

// noFailureRecorded is the failure of a failed job whose archive and JobManager log name none.
const noFailureRecorded = "no failure recorded: the job archive and the JobManager log name none"

// failureLoop finds the failures of failed jobs, a few at a time, and writes them to their records.
func (r *Reconciler) failureLoop(ctx context.Context) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-r.failures:
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				defer func() {
					r.mu.Lock()
					delete(r.seeking, s.recordID)
					r.mu.Unlock()
				}()
				fctx, cancel := context.WithTimeout(ctx, failureTimeout)
				defer cancel()
				msg := r.findFailure(fctx, s)
				if ctx.Err() != nil {
					return
				}
				var kind observe.Kind
				r.update(ctx, s.recordID, func(rec *registry.Record) bool {
					next := observe.WithFailure(rec.Status, msg)
					kind = ""
					if next.Equal(rec.Status) {
						return false
					}
					rec.Status, kind = next, observe.Kind(rec.Kind)
					return true
				})
				if kind != "" { // counted once, however often a conflict made the change run again
					r.opts.Metrics.wrote(kind)
				}
			})
		}
	}
}

// findFailure looks for a failure in the job archive(s), then in the JobManager log.
func (r *Reconciler) findFailure(ctx context.Context, s failureSearch) string {
	if s.jobID != "" {
		if a := r.archive(ctx, path.Join(s.archiveDir, s.jobID), s.jobID); a != nil && a.Failure != "" {
			return a.Failure
		}
	} else if entries, err := r.opts.Files.ReadDir(ctx, s.archiveDir); err == nil {
		for _, e := range entries {
			if a := r.archive(ctx, path.Join(s.archiveDir, e.Name), e.Name); a != nil && a.Failure != "" {
				return a.Failure
			}
		}
	}
	if s.logs != "" {
		if msg := r.loggedFailure(ctx, s.recordID, s.appID, s.logs); msg != "" {
			return msg
		}
	}
	return noFailureRecorded
}

// jobManagerLogTail is how much of the end of a JobManager log is searched for a driver failure.
const jobManagerLogTail = 1 << 20

// loggedFailure finds a failed driver's exception in the JobManager log its NodeManager keeps; "" when the
// log is gone or names none. The NodeManager answers 503 for a container it is still cleaning up, for some
// seconds after the ResourceManager reports the application ended; the read is retried until ctx ends.
func (r *Reconciler) loggedFailure(ctx context.Context, id, appID, logs string) string {
	backoff := time.Second
	for {
		log, err := r.opts.RM.ContainerLog(ctx, logs, "jobmanager.log", jobManagerLogTail)
		if err == nil {
			return jobmanager.DriverFailure(log)
		}
		if errors.Is(err, yarnclient.ErrNotFound) {
			// With log aggregation, the NodeManager lets go of an application's logs once they are in HDFS.
			log, aerr := r.aggregatedLogTail(ctx, appID, logs, "jobmanager.log", jobManagerLogTail)
			if aerr == nil {
				return jobmanager.DriverFailure(log)
			}
			r.opts.Logger.Debug("could not read the JobManager log", "id", id, "error", err, "aggregated", aerr)
			return ""
		}
		if !errors.Is(err, yarnclient.ErrUnavailable) {
			r.opts.Logger.Debug("could not read the JobManager log", "id", id, "error", err)
			return ""
		}
		select {
		case <-ctx.Done():
			r.opts.Logger.Debug("the JobManager log stayed unavailable", "id", id, "error", err)
			return ""
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// aggregatedLogTail reads the last tail bytes of a log file of the container a NodeManager log link names
// (http://<node>/node/containerlogs/<container>/<user>) from YARN's aggregated logs in HDFS, read as the
// application's user where the store can act as others (the files are theirs, mode 0640).
func (r *Reconciler) aggregatedLogTail(ctx context.Context, appID, link, file string, tail int64) (string, error) {
	u, err := url.Parse(link)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if err != nil || len(parts) < 4 || parts[1] != "containerlogs" {
		return "", fmt.Errorf("aggregated log: %q is not a container log link", link)
	}
	container, user := parts[2], parts[3]
	dirs, err := r.opts.RemoteLogs.AppDirs(user, appID)
	if err != nil {
		return "", err
	}
	if r.opts.Files.CanActAs() {
		ctx = hdfs.AsUser(ctx, user)
	}
	for _, dir := range dirs {
		entries, err := r.opts.Files.ReadDir(ctx, dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !yarnlogs.NodeFile(e.Name) {
				continue
			}
			if s, ok := r.aggregatedFileTail(ctx, path.Join(dir, e.Name), container, file, tail); ok {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("aggregated log: no %s of %s under %v: %w", file, container, dirs, fs.ErrNotExist)
}

// aggregatedFileTail reads the last tail bytes of one container's log file in one node's aggregated file.
func (r *Reconciler) aggregatedFileTail(ctx context.Context, name, container, file string, tail int64) (string, bool) {
	f, err := r.opts.Files.OpenFile(ctx, name)
	if err != nil {
		return "", false
	}
	defer f.Close()
	af, err := yarnlogs.Open(f, f.Size())
	if err != nil {
		return "", false
	}
	cs, err := af.Containers()
	if err != nil {
		return "", false
	}
	for _, c := range cs {
		if c.ID != container {
			continue
		}
		for _, lf := range c.Files {
			if lf.Name != file {
				continue
			}
			rd, err := af.Content(lf, max(0, lf.Size-tail), tail)
			if err != nil {
				return "", false
			}
			var b strings.Builder
			if _, err := io.Copy(&b, rd); err != nil {
				return "", false
			}
			return b.String(), true
		}
	}
	return "", false
}
