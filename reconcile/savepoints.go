package reconcile

import (
	"context"
	"errors"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// This file follows savepoints: the outcome of those in progress (asked of the JobManager each pass, so that a
// trigger outlives a gateway restart or a change of leader) and the retention of completed ones (disposed of
// through the JobManager while it runs, else removed from HDFS as the job's user).

// disposal is a savepoint retention dropped.
type disposal struct {
	recordID, triggerID string
}

// savepoints observes the savepoints in progress of every record and queues the disposal of those retention
// drops.
func (r *Reconciler) savepoints(ctx context.Context) {
	recs := r.opts.Registry.List(func(rec *registry.Summary) bool { return rec.Savepoints > 0 })
	for _, rec := range recs {
		for _, sp := range rec.Savepoints {
			if sp.State == observe.SavepointInProgress {
				r.observeSavepoint(ctx, rec, sp)
			}
		}
	}
	for _, rec := range recs {
		fresh, ok := r.opts.Registry.Cached(rec.ID)
		if !ok {
			continue
		}
		for _, id := range observe.SavepointsToDispose(fresh.Savepoints, r.opts.SavepointRetention, r.opts.Now()) {
			r.queueDisposal(disposal{recordID: rec.ID, triggerID: id})
		}
	}
}

// observeSavepoint asks the JobManager about one savepoint in progress and writes its outcome once known.
func (r *Reconciler) observeSavepoint(ctx context.Context, rec registry.Record, sp observe.Savepoint) {
	var a observe.SavepointAnswer
	jmURL := rec.Status.JobManager
	if jm, err := jobmanager.New(jmURL, r.jmHTTP); jmURL != "" && err == nil {
		cctx, cancel := context.WithTimeout(ctx, r.opts.JobManagerTimeout)
		st, err := jm.Savepoint(cctx, sp.FlinkJobID, sp.FlinkTriggerID)
		cancel()
		switch {
		case err == nil:
			a = observe.SavepointAnswer{Answered: true, Known: true, Completed: st.Completed, Location: st.Location, Failure: st.Failure}
		case errors.Is(err, jobmanager.ErrNotFound):
			a = observe.SavepointAnswer{Answered: true}
		default:
			r.opts.Logger.Debug("the JobManager did not answer about a savepoint", "id", rec.ID, "triggerId", sp.TriggerID, "error", err)
		}
	}
	ended := rec.Terminal || rec.ApplicationID != sp.ApplicationID
	if ended && !a.Answered {
		a.Archived = r.archivedSavepoints(ctx, sp.FlinkJobID)
	}
	next := observe.ObserveSavepoint(sp, a, ended, r.opts.Now())
	if next == sp {
		return
	}
	r.update(ctx, rec.ID, func(rec *registry.Record) bool {
		cur, ok := rec.Savepoint(sp.TriggerID)
		return ok && cur.State == observe.SavepointInProgress && rec.SetSavepoint(next)
	})
	r.opts.Logger.Info("savepoint ended", "id", rec.ID, "triggerId", sp.TriggerID, "state", next.State, "path", next.Path, "failure", next.Failure)
}

// archivedSavepoints reads the savepoints an ended job's archive names; nil without an archive.
func (r *Reconciler) archivedSavepoints(ctx context.Context, flinkJobID string) []observe.ArchivedSavepoint {
	b := r.readArchive(ctx, path.Join(r.archiveDir(), flinkJobID))
	if b == nil {
		return nil
	}
	list, err := jobmanager.ArchivedSavepoints(b, flinkJobID)
	if err != nil {
		r.opts.Logger.Debug("no savepoints in a job archive", "flinkJobId", flinkJobID, "error", err)
		return nil
	}
	out := make([]observe.ArchivedSavepoint, 0, len(list))
	for _, s := range list {
		out = append(out, observe.ArchivedSavepoint{Path: s.Path, TriggeredAt: time.UnixMilli(s.TriggeredAt).UTC()})
	}
	return out
}

// LatestArchivedCheckpoint reads the latest completed checkpoint an ended Flink job's archive names ("" when
// there is no archive, or it names none): the checkpoint a job canceled with retained checkpoints left.
func (r *Reconciler) LatestArchivedCheckpoint(ctx context.Context, flinkJobID string) string {
	b := r.readArchive(ctx, path.Join(r.archiveDir(), flinkJobID))
	if b == nil {
		return ""
	}
	p, err := jobmanager.ArchivedLatestCheckpoint(b, flinkJobID)
	if err != nil {
		r.opts.Logger.Debug("no checkpoint in a job archive", "flinkJobId", flinkJobID, "error", err)
	}
	return p
}

// queueDisposal hands a dropped savepoint to the disposal worker, unless it is already being disposed of.
func (r *Reconciler) queueDisposal(d disposal) {
	key := d.recordID + "/" + d.triggerID
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disposing[key] {
		return
	}
	select {
	case r.disposals <- d:
		r.disposing[key] = true
	default: // full: the next pass queues it again
	}
}

// disposalTimeout bounds the disposal of one savepoint.
const disposalTimeout = 2 * time.Minute

// disposeLoop disposes of the savepoints retention dropped, one at a time, and records them DISPOSED.
func (r *Reconciler) disposeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-r.disposals:
			dctx, cancel := context.WithTimeout(ctx, disposalTimeout)
			r.dispose(dctx, d)
			cancel()
			r.mu.Lock()
			delete(r.disposing, d.recordID+"/"+d.triggerID)
			r.mu.Unlock()
		}
	}
}

// dispose removes one savepoint's files: through the record's JobManager while one runs (POST
// /savepoint-disposal), else, or when that fails, from HDFS as the job's user.
func (r *Reconciler) dispose(ctx context.Context, d disposal) {
	rec, ok := r.opts.Registry.Cached(d.recordID)
	if !ok {
		return
	}
	sp, ok := rec.Savepoint(d.triggerID)
	if !ok || sp.State != observe.SavepointCompleted {
		return
	}
	err := errors.New("no JobManager runs")
	if jmURL := rec.Status.JobManager; jmURL != "" {
		err = r.disposeThroughJobManager(ctx, jmURL, sp.Path)
	}
	if err != nil {
		r.opts.Logger.Debug("disposing of a savepoint through HDFS", "id", d.recordID, "path", sp.Path, "reason", err)
		err = r.removeSavepoint(ctx, rec.Status.YARN.User, sp.Path)
	}
	if err != nil {
		r.opts.Logger.Warn("could not dispose of a savepoint retention dropped; retrying next pass", "id", d.recordID,
			"path", sp.Path, "error", err)
		return
	}
	now := r.opts.Now().UTC()
	r.update(ctx, d.recordID, func(rec *registry.Record) bool {
		cur, ok := rec.Savepoint(d.triggerID)
		if !ok || cur.State != observe.SavepointCompleted {
			return false
		}
		cur.State, cur.DisposedAt = observe.SavepointDisposed, now
		return rec.SetSavepoint(cur)
	})
	r.opts.Logger.Info("savepoint disposed of (retention)", "id", d.recordID, "triggerId", d.triggerID, "path", sp.Path)
}

// disposeThroughJobManager asks a JobManager to dispose of a savepoint and waits for the outcome.
func (r *Reconciler) disposeThroughJobManager(ctx context.Context, jmURL, savepoint string) error {
	jm, err := jobmanager.New(jmURL, r.jmHTTP)
	if err != nil {
		return err
	}
	id, err := jm.DisposeSavepoint(ctx, savepoint)
	if err != nil {
		return err
	}
	for {
		st, err := jm.Disposal(ctx, id)
		switch {
		case err != nil:
			return err
		case st.Completed && st.Failure != "":
			return errors.New(st.Failure)
		case st.Completed:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeSavepoint removes a savepoint directory of the gateway's file system, as user.
func (r *Reconciler) removeSavepoint(ctx context.Context, user, savepoint string) error {
	u, err := url.Parse(savepoint)
	if err != nil || (u.Scheme != "" && u.Scheme != "hdfs") || !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
		return errors.New("not a path of the gateway's HDFS: " + savepoint)
	}
	if user != "" {
		ctx = hdfs.AsUser(ctx, user)
	}
	return r.opts.Files.RemoveAll(ctx, u.Path)
}
