package reconcile

import (
	"context"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/flinkcluster"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// clusterLocator finds the leading JobManager of a registered cluster; *flinkcluster.Locator implements it.
type clusterLocator interface {
	Leader(ctx context.Context, id string, reg registry.ClusterRegistration) (flinkcluster.Leader, error)
}

// onYARN reports whether records of kind are YARN applications of the gateway's (jobs and sessions), which
// the pass finds in the ResourceManager's list.
func onYARN(kind string) bool {
	return kind == registry.KindJob || kind == registry.KindSession
}

// reconcileClusterJobs refreshes the jobs in registered clusters: per cluster one leader lookup (ZooKeeper,
// YARN or the registered URLs) and one job listing, then every job record that has not ended observed as a
// session job is (observe.SessionJob). Ended records are dropped after the retention. Jobs the cluster runs
// without a record are not adopted: a registered cluster runs other clients' jobs too.
func (r *Reconciler) reconcileClusterJobs(ctx context.Context) {
	byCluster := map[string][]registry.Record{}
	now := r.opts.Now()
	for _, rec := range r.opts.Registry.List(func(rec *registry.Summary) bool {
		// Ended records only when due to be dropped, so that those waiting out the retention are not decoded.
		return rec.Kind == registry.KindClusterJob &&
			(!rec.Terminal || !rec.EndedAt.IsZero() && now.Sub(rec.EndedAt) >= r.opts.Retention)
	}) {
		if rec.Terminal {
			if !rec.EndedAt.IsZero() && now.Sub(rec.EndedAt) >= r.opts.Retention {
				r.drop(ctx, rec)
			}
			continue
		}
		byCluster[rec.ApplicationID] = append(byCluster[rec.ApplicationID], rec)
	}
	for id, recs := range byCluster {
		r.reconcileClusterJobsOf(ctx, id, recs)
	}
}

// reconcileClusterJobsOf observes jobs of one registered cluster.
func (r *Reconciler) reconcileClusterJobsOf(ctx context.Context, clusterID string, recs []registry.Record) {
	if r.opts.Clusters == nil || len(recs) == 0 {
		return
	}
	cl, ok := r.opts.Registry.Cached(clusterID)
	var v *sessionView
	if ok && cl.Kind == registry.KindCluster && cl.Cluster != nil {
		v = r.clusterView(ctx, clusterID, *cl.Cluster)
	}
	for _, rec := range recs {
		if rec.Terminal {
			continue
		}
		o := observe.Observation{Now: r.opts.Now()}
		if v != nil {
			o.JobManager = observe.JobManager{URL: v.url, Answered: v.answered, Recovering: v.recovering}
			jid := rec.Status.Flink.JobID
			if ov, ok := v.jobs[jid]; ok {
				o.JobManager.Job = &observe.FlinkJob{ID: jid, Name: ov.Name, State: string(ov.State)}
				if (ov.State == "FAILED" || ov.State == "FAILING") && rec.Status.Flink.Failure == "" {
					if jm, err := jobmanager.New(v.url, r.jmHTTP); err == nil {
						o.JobManager.RootException, _ = jm.RootException(ctx, jid)
					}
				}
			}
		}
		// A cluster that is not found (deregistered) leaves its jobs as they were last seen: the gateway
		// refuses to deregister a cluster with running jobs, so this is a registry being edited by hand.
		next, _ := observe.SessionJob(rec.Status, o, false)
		next.YARN = rec.Status.YARN
		if v != nil && next.JobManager == "" && !observe.Terminal(observe.KindSessionJob, next.State) {
			next.JobManager = v.url // the links follow the leader even while it does not answer yet
		}
		r.write(ctx, rec.ID, observe.KindSessionJob, next, "")
	}
}

// clusterView asks a registered cluster's leading JobManager for its jobs; nil when no leader is known now
// (the jobs keep their state: a leader election or an unreachable cluster ends no job).
func (r *Reconciler) clusterView(ctx context.Context, id string, reg registry.ClusterRegistration) *sessionView {
	l, err := r.opts.Clusters.Leader(ctx, id, reg)
	if err != nil {
		r.opts.Logger.Debug("no JobManager leader for a registered cluster", "cluster", id, "error", err)
		return nil
	}
	// A job the leader does not list may still be recovering from the HA stores for a while after it became
	// leader (or after this instance first found it).
	v := &sessionView{url: l.URL, recovering: r.opts.Now().Sub(l.Since) < jobRecoveryGrace}
	jm, err := jobmanager.New(l.URL, r.jmHTTP)
	if err != nil {
		return nil
	}
	list, err := jm.Jobs(ctx)
	if err != nil {
		// The leader does not answer (yet): keep the states, but the links follow the new leader.
		return &sessionView{url: l.URL}
	}
	v.answered, v.jobs = true, make(map[string]jobmanager.JobOverview, len(list))
	for _, o := range list {
		if ident.ValidFlinkJobID(o.ID) {
			v.jobs[o.ID] = o
		}
	}
	return v
}
