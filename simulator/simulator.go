// Package simulator serves the parts of a YARN ResourceManager's REST API and of Flink JobManagers' REST
// APIs that yarngate uses, for tens of thousands of applications, without a cluster: tests and the scale
// benchmark (make bench-scale) start it in-process, cmd/yarngate-sim serves it alone.
//
// ResourceManager (one listener): /ws/v1/cluster/info (an active RM, for the HA probe), the application list
// with its filters (states, applicationTags, deSelects, limit, startedTimeBegin, finishedTimeBegin), one application's report,
// new-application, submission (ACCEPTED, then RUNNING after Options.StartDelay), and kill (PUT .../state).
// Unless deSelects names them, every report carries resourceRequests, timeouts and resourceInfo as a real
// RM's does, so that the cost of an unfiltered list is realistic.
//
// JobManagers (one listener for all): each running application's JobManager has a host name of its own
// (AMRPCAddress jm-<n>.sim:8081, on the host of its AM container, jm-<n>.sim); a request names it in its Host
// header. Dial connects any such address to the listener: give it to the http.Transport of a client. The
// JobManager serves /config, /overview, /jobs/overview, /jobs/<id>, /jobs/<id>/exceptions, cancel (PATCH
// /jobs/<id>?mode=cancel), /jars, /jars/upload, /jars/<id>/run and DELETE /cluster. It can be made slow
// (Options.JobManagerLatency), hanging (answers only when the caller gives up) or failing (500).
//
// States change when a test or the benchmark says so (SetAppState, SetJobState); every call is counted
// (Calls). The simulator starts no goroutine of its own besides its two HTTP servers, which Close stops.
package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yarngate/yarngate/ident"
)

// Behavior is how a JobManager answers.
type Behavior int

// JobManager behaviours.
const (
	// Normal answers after Options.JobManagerLatency.
	Normal Behavior = iota
	// Hanging never answers: the request ends when its caller gives up.
	Hanging
	// Failing answers 500 with a Flink error body.
	Failing
)

// Options configure a Simulator. Zero values are fine.
type Options struct {
	// RMLatency delays every ResourceManager answer; JobManagerLatency every JobManager answer.
	RMLatency, JobManagerLatency time.Duration
	// StartDelay is how long a submitted application stays ACCEPTED before it runs.
	StartDelay time.Duration
	// ClusterTimestamp is the first part of application ids. Default 1767225600000.
	ClusterTimestamp int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Job is one Flink job of a simulated JobManager.
type Job struct {
	ID, Name, State string
	Start           int64 // ms
	RootException   string
}

// App is a simulated YARN application.
type App struct {
	ID, User, Name, Queue string
	Tags                  []string
	State, FinalStatus    string
	Diagnostics           string
	Started, Finished     int64 // ms
	// Host is the host of its AM container and JobManager.
	Host     string
	Behavior Behavior
	// Jobs are its Flink jobs, by id.
	Jobs map[string]*Job
	// JobOrder keeps Jobs in submission order.
	JobOrder []string
	jars     map[string]bool
}

// Calls counts the requests the simulator served.
type Calls struct {
	// RM counts ResourceManager requests by "<method> <route>", such as "GET apps".
	RM map[string]int64
	// JobManager counts JobManager requests by "<method> <route>", such as "GET jobs/overview".
	JobManager map[string]int64
	// ByApplication counts JobManager requests by application id (those that reached a JobManager that
	// runs).
	ByApplication map[string]int64
}

// Total returns the sum of a count.
func Total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Simulator is a simulated ResourceManager and its applications' JobManagers.
type Simulator struct {
	opts Options

	mu    sync.Mutex
	apps  map[string]*App
	order []string // application ids, in submission order
	next  int
	calls Calls
	lists []string // queries of the last application lists

	rm, jm   *http.Server
	rmAddr   string
	jmAddr   string
	closed   chan struct{}
	inFlight atomic.Int64
	jmConns  atomic.Int64 // connections the JobManagers' listener accepted
}

// New starts a simulator listening on 127.0.0.1 (two ephemeral ports).
func New(opts Options) (*Simulator, error) {
	if opts.ClusterTimestamp == 0 {
		opts.ClusterTimestamp = 1767225600000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Simulator{opts: opts, apps: map[string]*App{}, closed: make(chan struct{}),
		calls: Calls{RM: map[string]int64{}, JobManager: map[string]int64{}, ByApplication: map[string]int64{}}}
	rmL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: listen: %w", err)
	}
	jmL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rmL.Close()
		return nil, fmt.Errorf("simulator: listen: %w", err)
	}
	s.rmAddr, s.jmAddr = rmL.Addr().String(), jmL.Addr().String()
	s.rm = &http.Server{Handler: http.HandlerFunc(s.serveRM), ReadHeaderTimeout: 10 * time.Second}
	s.jm = &http.Server{Handler: http.HandlerFunc(s.serveJM), ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.jmConns.Add(1)
			}
		}}
	go func() { _ = s.rm.Serve(rmL) }()
	go func() { _ = s.jm.Serve(jmL) }()
	return s, nil
}

// Close stops both servers; hanging requests end.
func (s *Simulator) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	return errors.Join(s.rm.Close(), s.jm.Close())
}

// RMURL is the ResourceManager's web address.
func (s *Simulator) RMURL() string { return "http://" + s.rmAddr }

// Dial connects to the JobManagers' listener whatever address is asked for (every simulated JobManager
// host): use it as the DialContext of the http.Transport that talks to simulated JobManagers.
func (s *Simulator) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.jmAddr)
}

// JobManagerClient returns an HTTP client that reaches the simulated JobManagers, with timeout, for a
// test's own calls (the reconciler takes Dial and builds its own).
func (s *Simulator) JobManagerClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: s.Dial, MaxIdleConns: 100,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second}}
}

// LookupHost resolves every simulated host to 127.0.0.1 (for the reconciler's AM-host check).
func LookupHost(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }

// AppSpec describes an application to add.
type AppSpec struct {
	User, Name, Queue string
	Tags              []string
	// State is its YARN state (default RUNNING).
	State string
	// Session makes it a session cluster (no job of its own); otherwise it runs one job whose id is
	// derived from the application id, as yarngate's launches do.
	Session bool
	// SessionJobs is how many jobs a session runs (RUNNING).
	SessionJobs int
	// Started is its submission time (default now).
	Started time.Time
}

// AddApp adds an application and returns its id.
func (s *Simulator) AddApp(spec AppSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(spec)
}

func (s *Simulator) addLocked(spec AppSpec) string {
	s.next++
	n := s.next
	id := fmt.Sprintf("application_%d_%04d", s.opts.ClusterTimestamp, n)
	now := s.opts.Now()
	if spec.Started.IsZero() {
		spec.Started = now
	}
	app := &App{ID: id, User: cmpOr(spec.User, "yarngate"), Name: cmpOr(spec.Name, "job-"+strconv.Itoa(n)),
		Queue: cmpOr(spec.Queue, "default"), Tags: spec.Tags, State: cmpOr(spec.State, "RUNNING"), FinalStatus: "UNDEFINED",
		Started: spec.Started.UnixMilli(), Host: fmt.Sprintf("jm-%d.sim", n), Jobs: map[string]*Job{}, jars: map[string]bool{}}
	if !spec.Session {
		jid, _ := ident.FlinkJobID(id)
		app.addJob(&Job{ID: jid, Name: app.Name, State: "RUNNING", Start: app.Started})
	}
	for i := range spec.SessionJobs {
		app.addJob(&Job{ID: fmt.Sprintf("%016x%016x", n, i+1), Name: fmt.Sprintf("%s-%d", app.Name, i), State: "RUNNING", Start: app.Started})
	}
	if isTerminal(app.State) {
		app.Finished = now.UnixMilli()
		app.FinalStatus = finalOf(app.State)
	}
	s.apps[id] = app
	s.order = append(s.order, id)
	return id
}

func (a *App) addJob(j *Job) {
	a.Jobs[j.ID] = j
	a.JobOrder = append(a.JobOrder, j.ID)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isTerminal(state string) bool {
	return state == "FINISHED" || state == "FAILED" || state == "KILLED"
}

func finalOf(state string) string {
	switch state {
	case "FINISHED":
		return "SUCCEEDED"
	case "FAILED":
		return "FAILED"
	case "KILLED":
		return "KILLED"
	}
	return "UNDEFINED"
}

// ErrUnknown is returned for an application or job the simulator does not have.
var ErrUnknown = errors.New("simulator: unknown application or job")

// SetAppState changes an application's YARN state (a terminal one sets its final status: FINISHED
// SUCCEEDED, FAILED FAILED, KILLED KILLED; and ends its jobs alike).
func (s *Simulator) SetAppState(id, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[id]
	if app == nil {
		return ErrUnknown
	}
	app.State, app.FinalStatus = state, finalOf(state)
	if isTerminal(state) {
		app.Finished = s.opts.Now().UnixMilli()
		jobState := map[string]string{"FINISHED": "FINISHED", "FAILED": "FAILED", "KILLED": "CANCELED"}[state]
		for _, j := range app.Jobs {
			if j.State != "FINISHED" && j.State != "FAILED" && j.State != "CANCELED" {
				j.State = jobState
			}
		}
	}
	return nil
}

// SetJobState changes the state of one Flink job of an application (FAILED jobs get a root exception).
func (s *Simulator) SetJobState(appID, jobID, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[appID]
	if app == nil || app.Jobs[jobID] == nil {
		return ErrUnknown
	}
	app.Jobs[jobID].State = state
	if state == "FAILED" {
		app.Jobs[jobID].RootException = "java.lang.RuntimeException: simulated failure"
	}
	return nil
}

// SetBehavior makes an application's JobManager answer normally, hang or fail.
func (s *Simulator) SetBehavior(appID string, b Behavior) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[appID]
	if app == nil {
		return ErrUnknown
	}
	app.Behavior = b
	return nil
}

// App returns a copy of an application (its jobs included).
func (s *Simulator) App(id string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[id]
	if app == nil {
		return App{}, false
	}
	c := *app
	c.Jobs = make(map[string]*Job, len(app.Jobs))
	for k, j := range app.Jobs {
		jc := *j
		c.Jobs[k] = &jc
	}
	c.JobOrder = slices.Clone(app.JobOrder)
	return c, true
}

// Apps returns the ids of every application, in submission order.
func (s *Simulator) Apps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Calls returns a copy of the request counts.
func (s *Simulator) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Calls{RM: maps.Clone(s.calls.RM), JobManager: maps.Clone(s.calls.JobManager),
		ByApplication: maps.Clone(s.calls.ByApplication)}
}

// ListQueries returns the queries (without user.name) of the last 100 application lists, oldest first.
func (s *Simulator) ListQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lists)
}

// JobManagerConnections is the number of connections the JobManagers have accepted (one listener for all):
// a client that reuses its connections opens about one per JobManager.
func (s *Simulator) JobManagerConnections() int64 { return s.jmConns.Load() }

// InFlight is the number of requests being served now (hanging ones included).
func (s *Simulator) InFlight() int64 { return s.inFlight.Load() }

// delay waits d, or until the request or the simulator ends; false when it ended.
func (s *Simulator) delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// rmError answers as Hadoop's RemoteException.
func rmError(w http.ResponseWriter, status int, exception, msg string) {
	writeJSON(w, status, map[string]any{"RemoteException": map[string]string{"exception": exception, "message": msg,
		"javaClassName": "org.apache.hadoop.yarn.webapp." + exception}})
}

// serveRM serves the ResourceManager REST API.
func (s *Simulator) serveRM(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	p := strings.TrimPrefix(r.URL.Path, "/ws/v1/cluster")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	route := parts[0]
	if route == "apps" && len(parts) > 1 {
		route = "apps/<id>"
		if len(parts) > 2 {
			route += "/" + parts[2]
		}
		if parts[1] == "new-application" {
			route = "apps/new-application"
		}
	}
	s.mu.Lock()
	s.calls.RM[r.Method+" "+route]++
	s.mu.Unlock()
	if !s.delay(r, s.opts.RMLatency) {
		return
	}
	switch {
	case r.Method == http.MethodGet && (route == "info" || route == ""):
		writeJSON(w, 200, map[string]any{"clusterInfo": map[string]any{"id": s.opts.ClusterTimestamp, "startedOn": s.opts.ClusterTimestamp,
			"state": "STARTED", "haState": "ACTIVE", "rmStateStoreName": "org.apache.hadoop.yarn.server.resourcemanager.recovery.ZKRMStateStore",
			"resourceManagerVersion": "3.4.2", "hadoopVersion": "3.4.2", "haZooKeeperConnectionState": "CONNECTED"}})
	case r.Method == http.MethodGet && route == "apps":
		q := r.URL.Query()
		q.Del("user.name")
		s.mu.Lock()
		s.lists = append(s.lists, q.Encode())
		if len(s.lists) > 100 {
			s.lists = s.lists[1:]
		}
		s.mu.Unlock()
		s.listApps(w, q)
	case r.Method == http.MethodPost && route == "apps/new-application":
		s.mu.Lock()
		s.next++
		id := fmt.Sprintf("application_%d_%04d", s.opts.ClusterTimestamp, s.next)
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"application-id": id, "maximum-resource-capability": map[string]any{"memory": 8192, "vCores": 4}})
	case r.Method == http.MethodPost && route == "apps":
		s.submit(w, r)
	case r.Method == http.MethodGet && route == "apps/<id>":
		s.mu.Lock()
		app := s.apps[parts[1]]
		var rep map[string]any
		if app != nil {
			s.state(app)
			rep = s.report(app, nil)
		}
		s.mu.Unlock()
		if app == nil {
			rmError(w, 404, "NotFoundException", "java.lang.Exception: app with id: "+parts[1]+" not found")
			return
		}
		writeJSON(w, 200, map[string]any{"app": rep})
	case r.Method == http.MethodPut && route == "apps/<id>/state":
		var body struct {
			State string `json:"state"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.State != "KILLED" {
			rmError(w, 400, "BadRequestException", "only state KILLED is supported")
			return
		}
		s.mu.Lock()
		app := s.apps[parts[1]]
		if app != nil && !isTerminal(app.State) {
			app.State, app.FinalStatus, app.Finished = "KILLED", "KILLED", s.opts.Now().UnixMilli()
			for _, j := range app.Jobs {
				j.State = "CANCELED"
			}
		}
		var state string
		if app != nil {
			state = app.State
		}
		s.mu.Unlock()
		if app == nil {
			rmError(w, 404, "NotFoundException", "app "+parts[1]+" not found")
			return
		}
		writeJSON(w, 200, map[string]string{"state": state})
	case r.Method == http.MethodGet && route == "apps/<id>/appattempts":
		writeJSON(w, 200, map[string]any{"appAttempts": map[string]any{"appAttempt": []any{}}})
	default:
		rmError(w, 404, "NotFoundException", "no such resource "+r.URL.Path)
	}
}

// submit takes a submission context: the application is ACCEPTED, and RUNNING after StartDelay.
func (s *Simulator) submit(w http.ResponseWriter, r *http.Request) {
	var sc struct {
		ID    string `json:"application-id"`
		Name  string `json:"application-name"`
		Queue string `json:"queue"`
		Tags  struct {
			Tag []string `json:"tag"`
		} `json:"application-tags"`
		Type string `json:"application-type"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&sc); err != nil || sc.ID == "" {
		rmError(w, 400, "BadRequestException", "bad submission context")
		return
	}
	user := r.URL.Query().Get("doAs")
	if user == "" {
		user = r.URL.Query().Get("user.name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[sc.ID] != nil {
		w.WriteHeader(http.StatusAccepted) // a repeated id is success
		return
	}
	now := s.opts.Now()
	n, _ := strconv.Atoi(sc.ID[strings.LastIndexByte(sc.ID, '_')+1:])
	app := &App{ID: sc.ID, User: cmpOr(user, "yarngate"), Name: sc.Name, Queue: cmpOr(sc.Queue, "default"), Tags: lower(sc.Tags.Tag),
		State: "ACCEPTED", FinalStatus: "UNDEFINED", Started: now.UnixMilli(), Host: fmt.Sprintf("jm-%d.sim", n),
		Jobs: map[string]*Job{}, jars: map[string]bool{}}
	if !slices.Contains(app.Tags, ident.TagKindSession) && !slices.Contains(app.Tags, ident.TagMultipleJobs) {
		jid, _ := ident.FlinkJobID(sc.ID)
		app.addJob(&Job{ID: jid, Name: sc.Name, State: "RUNNING", Start: app.Started})
	}
	s.apps[sc.ID] = app
	s.order = append(s.order, sc.ID)
	w.WriteHeader(http.StatusAccepted)
}

func lower(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = strings.ToLower(t)
	}
	return out
}

// state is an application's state now: ACCEPTED ones run once StartDelay has passed. Called with mu held.
func (s *Simulator) state(app *App) string {
	if app.State == "ACCEPTED" && s.opts.Now().Sub(time.UnixMilli(app.Started)) >= s.opts.StartDelay {
		app.State = "RUNNING"
	}
	return app.State
}

// deSelectable are the report fields deSelects may leave out (Hadoop's DeSelectFields).
var deSelectable = []string{"resourceRequests", "timeouts", "appNodeLabelExpression", "amNodeLabelExpression", "resourceInfo"}

// report is an application's report as the RM renders it, without the deselected fields; app is a copy
// taken under mu (or mu is held).
func (s *Simulator) report(app *App, deselect map[string]bool) map[string]any {
	state := app.State
	rep := map[string]any{"id": app.ID, "user": app.User, "name": app.Name, "queue": app.Queue, "state": state,
		"finalStatus": app.FinalStatus, "progress": 100.0, "trackingUI": "ApplicationMaster",
		"trackingUrl": "http://" + s.rmAddr + "/proxy/" + app.ID + "/", "diagnostics": app.Diagnostics,
		"clusterId": s.opts.ClusterTimestamp, "applicationType": "Apache Flink", "applicationTags": strings.Join(app.Tags, ","),
		"priority": 0, "startedTime": app.Started, "launchTime": app.Started, "finishedTime": app.Finished,
		"elapsedTime": max(0, s.opts.Now().UnixMilli()-app.Started), "amContainerLogs": "http://" + app.Host + ":8042/node/containerlogs/container_" + app.ID[len("application_"):] + "_01_000001/" + app.User,
		"amHostHttpAddress": app.Host + ":8042", "allocatedMB": 2048, "allocatedVCores": 2, "runningContainers": 2,
		"logAggregationStatus": "NOT_START", "unmanagedApplication": false, "amNodeLabelExpression": "", "appNodeLabelExpression": ""}
	if state == "RUNNING" {
		rep["amRPCAddress"] = app.Host + ":8081"
	} else {
		rep["amRPCAddress"] = "N/A"
	}
	if !deselect["resourceRequests"] {
		rep["resourceRequests"] = []any{map[string]any{"capability": map[string]any{"memory": 1728, "vCores": 1},
			"nodeLabelExpression": "", "numContainers": 1, "priority": 1, "relaxLocality": true, "resourceName": "*",
			"executionTypeRequest": map[string]any{"enforceExecutionType": false, "executionType": "GUARANTEED"}}}
	}
	if !deselect["timeouts"] {
		rep["timeouts"] = map[string]any{"timeout": []any{map[string]any{"type": "LIFETIME", "expiryTime": "UNLIMITED", "remainingTimeInSeconds": -1}}}
	}
	if !deselect["resourceInfo"] {
		rep["resourceInfo"] = map[string]any{"resourceUsagesByPartition": []any{map[string]any{"partitionName": "",
			"used": map[string]any{"memory": 2048, "vCores": 2}, "reserved": map[string]any{"memory": 0, "vCores": 0},
			"pending": map[string]any{"memory": 0, "vCores": 0}, "amUsed": map[string]any{"memory": 1024, "vCores": 1},
			"amLimit": map[string]any{"memory": 4096, "vCores": 1}}}}
	}
	for _, f := range []string{"appNodeLabelExpression", "amNodeLabelExpression"} {
		if deselect[f] {
			delete(rep, f)
		}
	}
	return rep
}

// listApps answers GET /ws/v1/cluster/apps with Hadoop's filters: states (any of), applicationTags (any
// of), startedTimeBegin, finishedTimeBegin, limit, deSelects.
func (s *Simulator) listApps(w http.ResponseWriter, q url.Values) {
	split := func(key string) []string {
		var out []string
		for _, v := range q[key] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	states := split("states")
	for i := range states {
		states[i] = strings.ToUpper(states[i])
	}
	tags := lower(split("applicationTags"))
	deselect := map[string]bool{}
	for _, d := range split("deSelects") {
		if !slices.Contains(deSelectable, d) {
			rmError(w, 400, "BadRequestException", "java.lang.IllegalArgumentException: Invalid deSelects string "+d)
			return
		}
		deselect[d] = true
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	begin, _ := strconv.ParseInt(q.Get("startedTimeBegin"), 10, 64)
	finishedBegin, _ := strconv.ParseInt(q.Get("finishedTimeBegin"), 10, 64)
	// Select under the lock (copies), render outside it: JobManagers answer meanwhile.
	var sel []App
	s.mu.Lock()
	for _, id := range s.order {
		app := s.apps[id]
		if len(states) > 0 && !slices.Contains(states, s.state(app)) {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(app.Tags, t) }) {
			continue
		}
		if begin > 0 && app.Started < begin || finishedBegin > 0 && app.Finished < finishedBegin {
			continue
		}
		sel = append(sel, *app)
		if limit > 0 && len(sel) == limit {
			break
		}
	}
	s.mu.Unlock()
	out := make([]map[string]any, 0, len(sel))
	for i := range sel {
		out = append(out, s.report(&sel[i], deselect))
	}
	if len(out) == 0 {
		writeJSON(w, 200, map[string]any{"apps": nil})
		return
	}
	writeJSON(w, 200, map[string]any{"apps": map[string]any{"app": out}})
}

// jmError answers as Flink's REST API does.
func jmError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []string{msg}})
}

// serveJM serves the JobManager of the application whose host the request names.
func (s *Simulator) serveJM(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := parts[0]
	switch {
	case len(parts) == 2 && (parts[0] == "jobs" && parts[1] == "overview" || parts[0] == "jars" && parts[1] == "upload"):
		route = parts[0] + "/" + parts[1]
	case len(parts) >= 2 && (parts[0] == "jobs" || parts[0] == "jars"):
		route = parts[0] + "/<id>"
		if len(parts) > 2 {
			route += "/" + parts[2]
		}
	}
	s.mu.Lock()
	s.calls.JobManager[r.Method+" "+route]++
	var app *App
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(host, "jm-"), ".sim"))
	if err == nil {
		app = s.apps[fmt.Sprintf("application_%d_%04d", s.opts.ClusterTimestamp, n)] // host jm-<n>.sim: sequence number n
	}
	var behavior Behavior
	running := false
	if app != nil {
		behavior, running = app.Behavior, s.state(app) == "RUNNING"
		if running {
			s.calls.ByApplication[app.ID]++
		}
	}
	s.mu.Unlock()
	if app == nil || !running {
		// Nothing listens there.
		hj, ok := w.(http.Hijacker)
		if ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		jmError(w, 503, "no JobManager runs at "+host)
		return
	}
	switch behavior {
	case Hanging:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	case Failing:
		if s.delay(r, s.opts.JobManagerLatency) {
			jmError(w, 500, "org.apache.flink.runtime.rest.handler.RestHandlerException: simulated failure")
		}
		return
	}
	if !s.delay(r, s.opts.JobManagerLatency) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && route == "config":
		writeJSON(w, 200, map[string]any{"flink-version": "2.2.1", "flink-revision": "simulated", "refresh-interval": 3000,
			"timezone-name": "UTC", "timezone-offset": 0, "features": map[string]bool{"web-submit": true, "web-cancel": true}})
	case r.Method == http.MethodGet && route == "overview":
		running := 0
		for _, j := range app.Jobs {
			if j.State == "RUNNING" {
				running++
			}
		}
		writeJSON(w, 200, map[string]any{"taskmanagers": 1, "slots-total": 4, "slots-available": 4 - min(running, 4),
			"jobs-running": running, "jobs-finished": len(app.Jobs) - running, "jobs-cancelled": 0, "jobs-failed": 0, "flink-version": "2.2.1"})
	case r.Method == http.MethodGet && route == "jobs/overview":
		jobs := make([]map[string]any, 0, len(app.Jobs))
		for _, id := range app.JobOrder {
			j := app.Jobs[id]
			jobs = append(jobs, map[string]any{"jid": j.ID, "name": j.Name, "state": j.State, "start-time": j.Start, "end-time": -1,
				"duration": max(0, s.opts.Now().UnixMilli()-j.Start), "last-modification": j.Start,
				"tasks": map[string]int{"total": 1, "running": 1}})
		}
		writeJSON(w, 200, map[string]any{"jobs": jobs})
	case r.Method == http.MethodGet && route == "jobs/<id>":
		j := app.Jobs[parts[1]]
		if j == nil {
			jmError(w, 404, "org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job ("+parts[1]+")")
			return
		}
		writeJSON(w, 200, map[string]any{"jid": j.ID, "name": j.Name, "state": j.State, "start-time": j.Start,
			"vertices": []any{map[string]any{"id": "v1", "name": "Source -> Sink", "parallelism": 1, "status": j.State}}})
	case r.Method == http.MethodGet && route == "jobs/<id>/exceptions":
		j := app.Jobs[parts[1]]
		if j == nil {
			jmError(w, 404, "job not found")
			return
		}
		writeJSON(w, 200, map[string]any{"root-exception": j.RootException, "exceptionHistory": map[string]any{"entries": []any{}}})
	case r.Method == http.MethodPatch && route == "jobs/<id>":
		j := app.Jobs[parts[1]]
		if j == nil {
			jmError(w, 404, "job not found")
			return
		}
		if j.State == "RUNNING" || j.State == "RESTARTING" || j.State == "CREATED" {
			j.State = "CANCELED"
		}
		if len(app.Jobs) == 1 && !slices.Contains(app.Tags, ident.TagKindSession) {
			// An application cluster ends with its job.
			app.State, app.FinalStatus, app.Finished = "FINISHED", "KILLED", s.opts.Now().UnixMilli()
		}
		writeJSON(w, 202, map[string]any{})
	case r.Method == http.MethodGet && route == "jars":
		files := make([]map[string]any, 0, len(app.jars))
		for id := range app.jars {
			files = append(files, map[string]any{"id": id, "name": id, "uploaded": 0, "entry": []any{}})
		}
		writeJSON(w, 200, map[string]any{"address": "http://" + host + ":8081", "files": files})
	case r.Method == http.MethodPost && route == "jars/upload":
		if _, _, err := r.FormFile("jarfile"); err != nil {
			jmError(w, 400, "no jarfile part")
			return
		}
		id := fmt.Sprintf("%08x-sim_job.jar", len(app.jars)+1)
		app.jars[id] = true
		writeJSON(w, 200, map[string]any{"filename": "/tmp/flink-web-upload/" + id, "status": "success"})
	case r.Method == http.MethodPost && route == "jars/<id>/run":
		if !app.jars[parts[1]] {
			jmError(w, 404, "jar not found")
			return
		}
		var req struct {
			JobID string `json:"jobId"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
		if req.JobID == "" {
			req.JobID = fmt.Sprintf("%032x", len(app.Jobs)+1)
		}
		if app.Jobs[req.JobID] == nil {
			app.addJob(&Job{ID: req.JobID, Name: parts[1], State: "RUNNING", Start: s.opts.Now().UnixMilli()})
		}
		writeJSON(w, 200, map[string]any{"jobid": req.JobID})
	case r.Method == http.MethodDelete && route == "jars/<id>":
		delete(app.jars, parts[1])
		writeJSON(w, 200, map[string]any{})
	case r.Method == http.MethodDelete && route == "cluster":
		for _, j := range app.Jobs {
			if j.State == "RUNNING" {
				j.State = "CANCELED"
			}
		}
		app.State, app.FinalStatus, app.Finished = "FINISHED", "SUCCEEDED", s.opts.Now().UnixMilli()
		writeJSON(w, 202, map[string]any{})
	default:
		jmError(w, 404, "Not found: "+r.URL.Path)
	}
}
