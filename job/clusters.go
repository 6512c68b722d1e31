package job

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/flinkcluster"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// Errors of registered clusters, rendered by classify.
var (
	// ErrClusterNotFound: no registered cluster with this id (or the caller may not see it).
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrClusterExists: another registration has this id.
	ErrClusterExists = errors.New("a cluster with this id is registered already")
	// ErrClusterInUse: the cluster still runs jobs submitted through the gateway.
	ErrClusterInUse = errors.New("the cluster runs jobs of the gateway")
	// ErrClustersDisabled: the gateway registers no clusters (no job registry).
	ErrClustersDisabled = errors.New("registered clusters are not configured on this gateway")
	// ErrClusterUnreachable: no JobManager of the cluster answers.
	ErrClusterUnreachable = flinkcluster.ErrUnreachable
	// ErrClusterNotFlink: the registered endpoint is not a Flink JobManager.
	ErrClusterNotFlink = flinkcluster.ErrNotFlink
	// ErrClusterNoLeader: ZooKeeper names no leader for the registered cluster id.
	ErrClusterNoLeader = flinkcluster.ErrNoLeader
	// ErrClusterNotRunning: the registered YARN application does not run.
	ErrClusterNotRunning = flinkcluster.ErrNotRunning
	// ErrClusterUnsupported: the gateway cannot follow this kind of registration.
	ErrClusterUnsupported = flinkcluster.ErrUnsupported
)

// ValidClusterID reports whether id has the form of a registered cluster's id.
func ValidClusterID(id string) bool { return ident.ValidClusterID(id) }

// clusterLocator finds and probes registered clusters' JobManagers; *flinkcluster.Locator implements it.
type clusterLocator interface {
	Check(reg registry.ClusterRegistration) error
	Leader(ctx context.Context, id string, reg registry.ClusterRegistration) (flinkcluster.Leader, error)
	Probe(ctx context.Context, base string) (flinkcluster.Info, error)
	Forget(id string, reg registry.ClusterRegistration)
}

// clusterStateRegistered is the state of every registration record (a registration does not end; it is
// deleted).
const clusterStateRegistered = "REGISTERED"

// maxClusterURLs bounds the REST URLs of one registration.
const maxClusterURLs = 8

// clusterProbeTimeout bounds the JobManager calls of a registration or a GET of one cluster.
const clusterProbeTimeout = 10 * time.Second

// normalizeClusterRequest checks a registration and returns it as recorded.
func normalizeClusterRequest(r *api.FlinkClusterRequest) (registry.ClusterRegistration, error) {
	var e api.SpecError
	var reg registry.ClusterRegistration
	if !ident.ValidClusterID(r.ID) {
		e.Add("id", "required: 1 to 63 lower-case letters, digits and hyphens, not starting with a hyphen")
	}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		r.Name = r.ID
	}
	if len(r.Name) > maxJobNameLen || strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		e.Add("name", "must be at most %d characters without control characters", maxJobNameLen)
	}
	n := 0
	if len(r.REST) > 0 {
		n++
		if len(r.REST) > maxClusterURLs {
			e.Add("rest", "at most %d URLs", maxClusterURLs)
		}
		for _, raw := range r.REST {
			u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				u.RawQuery != "" || u.Fragment != "" {
				e.Add("rest", "%q is not an http(s) URL of a JobManager's REST endpoint", raw)
				continue
			}
			reg.REST = append(reg.REST, u.String())
		}
	}
	if z := r.ZooKeeper; z != nil {
		n++
		if strings.Trim(z.ClusterID, "/") == "" || strings.ContainsAny(z.ClusterID, "\x00 ") {
			e.Add("zookeeper.clusterId", "required: the cluster's high-availability.cluster-id")
		}
		if z.Root != "" && !strings.HasPrefix(z.Root, "/") {
			e.Add("zookeeper.root", "must be an absolute znode path (high-availability.zookeeper.path.root)")
		}
		reg.ZKQuorum, reg.ZKRoot, reg.ZKClusterID = strings.TrimSpace(z.Quorum), z.Root, z.ClusterID
		if reg.ZKRoot == "" {
			reg.ZKRoot = "/flink"
		}
	}
	if r.YARNApplicationID != "" {
		n++
		if !ident.ValidApplicationID(r.YARNApplicationID) {
			e.Add("yarnApplicationId", "must be a YARN application id (application_<ts>_<n>)")
		}
		reg.YARNApplicationID = r.YARNApplicationID
	}
	if n != 1 {
		e.Add("rest", "give exactly one of rest, zookeeper and yarnApplicationId")
	}
	return reg, e.OrNil()
}

// mayRegister reports whether p may register (and deregister) clusters: administrators, and the gateway's
// own user on a gateway without authentication. A registration makes the gateway call the endpoint it names
// and send it jars, so it is an administrator's decision, as adding a Flink distribution is.
func (s *Service) mayRegister(p authn.Principal) bool {
	return s.admin(p) || p.Method == authn.MethodNone
}

// RegisterCluster registers an existing Flink cluster, after finding its JobManager and checking that it is
// Flink. Registering the same cluster again under its id returns it (created=false).
func (s *Service) RegisterCluster(ctx context.Context, req api.FlinkClusterRequest) (api.FlinkCluster, bool, error) {
	if s.opts.Clusters == nil {
		return api.FlinkCluster{}, false, ErrClustersDisabled
	}
	reg, err := normalizeClusterRequest(&req)
	if err != nil {
		return api.FlinkCluster{}, false, err
	}
	acl, err := aclFrom(req.ACL)
	if err != nil {
		return api.FlinkCluster{}, false, err
	}
	p := s.caller(ctx)
	if !s.mayRegister(p) {
		return api.FlinkCluster{}, false, fmt.Errorf("%w: %s may not register clusters (administrators only)", ErrForbidden, p.User)
	}
	if old, err := s.opts.Registry.Get(ctx, req.ID); err == nil {
		if old.Kind == registry.KindCluster && old.Cluster != nil && sameRegistration(*old.Cluster, reg) {
			return s.renderCluster(old, nil), false, nil
		}
		return api.FlinkCluster{}, false, fmt.Errorf("%w: %s", ErrClusterExists, req.ID)
	} else if !errors.Is(err, registry.ErrNotFound) {
		return api.FlinkCluster{}, false, fmt.Errorf("read cluster %s: %w", req.ID, err)
	}
	if err := s.opts.Clusters.Check(reg); err != nil {
		return api.FlinkCluster{}, false, err
	}
	pctx, cancel := context.WithTimeout(ctx, clusterProbeTimeout)
	defer cancel()
	leader, err := s.opts.Clusters.Leader(pctx, req.ID, reg)
	if err != nil {
		s.opts.Clusters.Forget(req.ID, reg)
		return api.FlinkCluster{}, false, fmt.Errorf("register %s: %w", req.ID, err)
	}
	info, err := s.opts.Clusters.Probe(pctx, leader.URL)
	if err != nil {
		s.opts.Clusters.Forget(req.ID, reg)
		return api.FlinkCluster{}, false, fmt.Errorf("register %s: %w", req.ID, err)
	}
	now := time.Now().UTC()
	rec := registry.Record{ID: req.ID, Kind: registry.KindCluster, ApplicationID: reg.YARNApplicationID, Owner: p.User,
		SubmittedBy: p.Name, ACL: acl, Name: req.Name, Cluster: &reg}
	rec.SetStatus(observe.Status{Schema: observe.SchemaVersion, State: clusterStateRegistered, Since: now,
		Flink: observe.Flink{Version: info.FlinkVersion}}, "")
	created, err := s.opts.Registry.Create(ctx, rec)
	if errors.Is(err, registry.ErrExists) {
		return api.FlinkCluster{}, false, fmt.Errorf("%w: %s", ErrClusterExists, req.ID)
	}
	if err != nil {
		return api.FlinkCluster{}, false, fmt.Errorf("record cluster %s: %w", req.ID, err)
	}
	s.opts.Logger.InfoContext(ctx, "cluster registered", "requestId", RequestID(ctx), "cluster", req.ID,
		"kind", reg.Kind(), "jobManager", leader.URL, "flinkVersion", info.FlinkVersion)
	return s.renderCluster(created, healthOf(leader.URL, info, nil)), true, nil
}

func sameRegistration(a, b registry.ClusterRegistration) bool {
	return slices.Equal(a.REST, b.REST) && a.ZKQuorum == b.ZKQuorum && a.ZKRoot == b.ZKRoot &&
		a.ZKClusterID == b.ZKClusterID && a.YARNApplicationID == b.YARNApplicationID
}

// clusterRecord reads the record of a registered cluster the caller may see.
func (s *Service) clusterRecord(ctx context.Context, id string) (registry.Record, error) {
	if !ident.ValidClusterID(id) {
		return registry.Record{}, fmt.Errorf("%w: %q is not a cluster id", ErrClusterNotFound, id)
	}
	rec, err := s.opts.Registry.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrClusterNotFound, id)
	case err != nil:
		return registry.Record{}, fmt.Errorf("read cluster %s: %w", id, err)
	case rec.Kind != registry.KindCluster || rec.Cluster == nil || !s.may(s.caller(ctx), &rec, accessView):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrClusterNotFound, id)
	}
	return rec, nil
}

// FlinkCluster returns a registered cluster with its health: what its leading JobManager answers now.
func (s *Service) FlinkCluster(ctx context.Context, id string) (api.FlinkCluster, error) {
	if s.opts.Clusters == nil {
		return api.FlinkCluster{}, ErrClustersDisabled
	}
	rec, err := s.clusterRecord(ctx, id)
	if err != nil {
		return api.FlinkCluster{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, clusterProbeTimeout)
	defer cancel()
	leader, err := s.opts.Clusters.Leader(pctx, id, *rec.Cluster)
	if err != nil {
		return s.renderCluster(rec, healthOf("", flinkcluster.Info{}, err)), nil
	}
	info, err := s.opts.Clusters.Probe(pctx, leader.URL)
	return s.renderCluster(rec, healthOf(leader.URL, info, err)), nil
}

// healthOf is the API health of a probe.
func healthOf(jm string, info flinkcluster.Info, err error) *api.FlinkClusterHealth {
	h := &api.FlinkClusterHealth{State: api.ClusterHealthy, JobManager: jm, CheckedAt: time.Now().UTC()}
	if jm != "" {
		h.FlinkUI = jm + "/#/overview"
	}
	if err != nil {
		h.State, h.Reason = api.ClusterUnreachable, clusterReason(err)
		return h
	}
	h.FlinkVersion, h.TaskManagers, h.SlotsTotal, h.SlotsAvailable, h.JobsRunning =
		info.FlinkVersion, info.TaskManagers, info.SlotsTotal, info.SlotsAvailable, info.JobsRunning
	return h
}

// clusterReason says, safe for clients, why a cluster's JobManager cannot be used.
func clusterReason(err error) string {
	switch {
	case errors.Is(err, flinkcluster.ErrNoLeader):
		return "ZooKeeper names no JobManager leader for the cluster id under the path root"
	case errors.Is(err, flinkcluster.ErrNotRunning):
		return "the YARN application does not run"
	case errors.Is(err, flinkcluster.ErrNotFlink):
		return "the endpoint does not answer as a Flink JobManager"
	case errors.Is(err, flinkcluster.ErrUnsupported):
		return "the gateway cannot follow this registration"
	default:
		return "no JobManager answers"
	}
}

// ListClusters returns the registered clusters the caller may see, by id (without health: GET one for it).
func (s *Service) ListClusters(ctx context.Context) ([]api.FlinkCluster, error) {
	if s.opts.Clusters == nil {
		return nil, ErrClustersDisabled
	}
	p := s.caller(ctx)
	recs := s.opts.Registry.List(func(rec *registry.Summary) bool {
		return rec.Kind == registry.KindCluster && rec.Cluster && visibleSummary(rec)
	})
	recs = slices.DeleteFunc(recs, func(rec registry.Record) bool { return !s.may(p, &rec, accessView) })
	out := make([]api.FlinkCluster, 0, len(recs))
	for _, rec := range recs {
		out = append(out, s.renderCluster(rec, nil))
	}
	slices.SortFunc(out, func(a, b api.FlinkCluster) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeregisterCluster removes a registration; the cluster itself runs on. A cluster that still runs jobs
// submitted through the gateway is not deregistered (ErrClusterInUse): cancel them first.
func (s *Service) DeregisterCluster(ctx context.Context, id string) (api.FlinkCluster, error) {
	if s.opts.Clusters == nil {
		return api.FlinkCluster{}, ErrClustersDisabled
	}
	rec, err := s.clusterRecord(ctx, id)
	if err != nil {
		return api.FlinkCluster{}, err
	}
	if p := s.caller(ctx); !s.mayRegister(p) && rec.Owner != p.User {
		return api.FlinkCluster{}, forbidden(p, "deregister", &rec)
	}
	running := s.opts.Registry.List(func(r *registry.Summary) bool {
		return r.Kind == registry.KindClusterJob && r.ApplicationID == id && !r.Terminal
	})
	if len(running) > 0 {
		return api.FlinkCluster{}, fmt.Errorf("%w: %d job(s), such as %s, have not ended", ErrClusterInUse, len(running), running[0].ID)
	}
	if err := s.opts.Registry.Delete(ctx, rec); err != nil {
		return api.FlinkCluster{}, fmt.Errorf("delete cluster %s: %w", id, err)
	}
	s.opts.Clusters.Forget(id, *rec.Cluster)
	s.opts.Logger.InfoContext(ctx, "cluster deregistered", "requestId", RequestID(ctx), "cluster", id)
	return s.renderCluster(rec, nil), nil
}

// renderCluster is the API object of a cluster record.
func (s *Service) renderCluster(rec registry.Record, health *api.FlinkClusterHealth) api.FlinkCluster {
	reg := *rec.Cluster
	c := api.FlinkCluster{ID: rec.ID, Name: rec.Name, Kind: reg.Kind(), REST: slices.Clone(reg.REST),
		YARNApplicationID: reg.YARNApplicationID, Health: health, Owner: rec.Owner, SubmittedBy: rec.SubmittedBy,
		ACL: renderACL(rec.ACL), CreatedAt: rec.CreatedAt}
	if reg.ZKClusterID != "" {
		c.ZooKeeper = &api.FlinkClusterZooKeeper{Quorum: reg.ZKQuorum, Root: reg.ZKRoot, ClusterID: reg.ZKClusterID}
	}
	return c
}

// submitToCluster runs a job in a registered cluster as a session job runs in a session: the jar streamed
// to the cluster's current leader (once per cluster and jar) and run there under a Flink job id chosen here.
func (s *Service) submitToCluster(ctx context.Context, req api.JobRequest, key, fp string, acl *registry.ACL, a actor) (registry.Record, bool, error) {
	if s.opts.Clusters == nil {
		return registry.Record{}, false, ErrClustersDisabled
	}
	cl, err := s.clusterRecord(ctx, req.ClusterID)
	if err != nil {
		return registry.Record{}, false, err
	}
	if !s.may(a.as, &cl, accessModify) {
		return registry.Record{}, false, forbidden(a.as, "submit jobs into", &cl)
	}
	leader, err := s.opts.Clusters.Leader(ctx, cl.ID, *cl.Cluster)
	if err != nil {
		return registry.Record{}, false, fmt.Errorf("cluster %s: %w", cl.ID, err)
	}
	return s.runInJobManager(ctx, req, key, fp, acl, a, jobManagerRun{
		kind: registry.KindClusterJob, target: targetCluster, clusterID: cl.ID, jobManager: leader.URL,
		recordID: ident.ClusterJobID, flinkVersion: cl.Status.Flink.Version,
		unreachable: flinkcluster.ErrUnreachable, what: "cluster job",
	})
}

// cancelClusterJob cancels a job in a registered cluster through the cluster's current leader.
func (s *Service) cancelClusterJob(ctx context.Context, rec registry.Record) (api.Job, error) {
	cl, ok := s.opts.Registry.Cached(rec.ApplicationID)
	if !ok || cl.Cluster == nil || s.opts.Clusters == nil {
		return api.Job{}, fmt.Errorf("%w: %s", ErrClusterNotFound, rec.ApplicationID)
	}
	leader, err := s.opts.Clusters.Leader(ctx, cl.ID, *cl.Cluster)
	if err != nil {
		return api.Job{}, fmt.Errorf("cancel %s: cluster %s: %w", rec.ID, cl.ID, err)
	}
	if err := s.cancelFlink(ctx, leader.URL, []string{rec.Status.Flink.JobID}); err != nil {
		return api.Job{}, fmt.Errorf("cancel %s: %w", rec.ID, err)
	}
	s.opts.Logger.InfoContext(ctx, "cluster job cancel requested", "requestId", RequestID(ctx), "job", rec.ID)
	return s.observed(ctx, rec), nil
}

// renderClusterJob completes the API object of a job in a registered cluster: its cluster, and links to
// the leading JobManager's web UI (the JobManager serves it on its REST address).
func (s *Service) renderClusterJob(rec registry.Record, job api.Job) api.Job {
	st := rec.Status
	job.Target, job.ClusterID = targetCluster, rec.ApplicationID
	job.YARN = api.JobYARN{}
	job.Links = api.JobLinks{}
	if cl, ok := s.opts.Registry.Cached(rec.ApplicationID); ok && cl.Cluster != nil && cl.Cluster.YARNApplicationID != "" {
		job.YARN.ApplicationID = cl.Cluster.YARNApplicationID
		job.Links.YARN = s.rmBase() + "/cluster/app/" + cl.Cluster.YARNApplicationID
	}
	if st.JobManager != "" && !rec.Terminal {
		route := "running"
		if st.Flink.State == "FINISHED" || st.Flink.State == "FAILED" || st.Flink.State == "CANCELED" {
			route = "completed"
		}
		ui := st.JobManager + "/#/job/" + route + "/" + st.Flink.JobID + "/overview"
		job.Links.FlinkUI, job.Links.JobManager = &ui, ptr(st.JobManager)
	}
	return job
}

// isJob reports whether records of kind are jobs (of every target).
func isJob(kind string) bool {
	return kind == registry.KindJob || kind == registry.KindSessionJob || kind == registry.KindClusterJob
}
