package simulator_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/simulator"
	"github.com/yarngate/yarngate/yarnclient"
)

func start(t *testing.T, o simulator.Options) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rmClient(t *testing.T, s *simulator.Simulator) *yarnclient.Client {
	t.Helper()
	c, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{ID: "rm1", URL: s.RMURL()}}, User: "yarngate",
		RequestTimeout: 10 * time.Second, Retry: yarnclient.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestResourceManager: what yarnclient calls works against the simulator (cluster info, new-application,
// submit, report, filtered lists, kill), with the filters Hadoop documents.
func TestResourceManager(t *testing.T) {
	t.Parallel()
	s := start(t, simulator.Options{})
	rm := rmClient(t, s)
	ctx := t.Context()
	if info, err := rm.ClusterInfo(ctx); err != nil || info.HAState != yarnclient.HAStateActive {
		t.Fatalf("ClusterInfo = %+v, %v", info, err)
	}
	running := s.AddApp(simulator.AppSpec{Tags: []string{"yarngate", "home"}})
	s.AddApp(simulator.AppSpec{Tags: []string{"other"}})
	done := s.AddApp(simulator.AppSpec{Tags: []string{"yarngate", "home"}, State: "FINISHED"})

	na, err := rm.NewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := &yarnclient.SubmissionContext{ApplicationID: na.ApplicationID, ApplicationName: "submitted", ApplicationType: "Apache Flink",
		Queue: "default", ApplicationTags: []string{"yarngate", "home"}, Resource: yarnclient.Resource{MemoryMB: 1024, VCores: 1},
		AMContainerSpec: yarnclient.ContainerLaunchContext{Commands: yarnclient.Commands{"true"}}}
	if err := rm.Submit(ctx, sc); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	tests := []struct {
		name string
		f    yarnclient.AppsFilter
		want []string
	}{
		{"by tag", yarnclient.AppsFilter{ApplicationTags: []string{"home"}}, []string{running, done, na.ApplicationID}},
		{"by tag and state", yarnclient.AppsFilter{ApplicationTags: []string{"home"}, States: []yarnclient.AppState{yarnclient.StateRunning}},
			[]string{running, na.ApplicationID}},
		{"ended", yarnclient.AppsFilter{States: []yarnclient.AppState{yarnclient.StateFinished}}, []string{done}},
		{"limit", yarnclient.AppsFilter{Limit: 1}, []string{running}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apps, err := rm.Apps(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range apps {
				got = append(got, a.ID)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Apps = %v, want %v", got, tc.want)
			}
		})
	}
	if app, err := rm.App(ctx, running); err != nil || app.AMRPCAddress == "" || !app.HasTag("home") {
		t.Fatalf("App = %+v, %v", app, err)
	}
	if _, err := rm.App(ctx, "application_1_1"); !errors.Is(err, yarnclient.ErrNotFound) {
		t.Fatalf("unknown app: %v", err)
	}
	if st, err := rm.Kill(ctx, running, "test"); err != nil || st != yarnclient.StateKilled {
		t.Fatalf("Kill = %s, %v", st, err)
	}
	if c := s.Calls(); c.RM["GET apps"] != 4 || c.RM["PUT apps/<id>/state"] != 1 {
		t.Errorf("calls %v", c.RM)
	}
}

// TestDeSelects: deSelects leaves the heavy fields out, as Hadoop does, and an unknown one is refused.
func TestDeSelects(t *testing.T) {
	t.Parallel()
	s := start(t, simulator.Options{})
	for range 50 {
		s.AddApp(simulator.AppSpec{Tags: []string{"yarngate"}})
	}
	size := func(q string) (int, int) {
		resp, err := http.Get(s.RMURL() + "/ws/v1/cluster/apps?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, len(b)
	}
	_, full := size("")
	status, slim := size("deSelects=resourceRequests,timeouts,resourceInfo,appNodeLabelExpression,amNodeLabelExpression")
	if status != 200 || slim*3 > full*2 {
		t.Errorf("deSelects: %d bytes of %d (status %d)", slim, full, status)
	}
	if status, _ := size("deSelects=nonsense"); status != 400 {
		t.Errorf("unknown deSelects: %d", status)
	}
}

// TestJobManagers: each running application has a JobManager of its own that jobmanager.Client reads;
// state changes show; a hanging JobManager holds the call until its caller gives up, a failing one
// answers 500, and an ended application's refuses connections.
func TestJobManagers(t *testing.T) {
	t.Parallel()
	s := start(t, simulator.Options{JobManagerLatency: time.Millisecond})
	job := s.AddApp(simulator.AppSpec{})
	sess := s.AddApp(simulator.AppSpec{Session: true, SessionJobs: 3, Tags: []string{ident.TagKindSession}})
	hc := s.JobManagerClient(time.Second)
	jm := func(appID string) *jobmanager.Client {
		app, _ := s.App(appID)
		c, err := jobmanager.New("http://"+app.Host+":8081", hc)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := t.Context()
	jid, _ := ident.FlinkJobID(job)
	if d, err := jm(job).Job(ctx, jid); err != nil || d.State != "RUNNING" {
		t.Fatalf("Job = %+v, %v", d, err)
	}
	list, err := jm(sess).Jobs(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("Jobs = %+v, %v", list, err)
	}
	if err := s.SetJobState(sess, list[1].ID, "FAILED"); err != nil {
		t.Fatal(err)
	}
	if msg, err := jm(sess).RootException(ctx, list[1].ID); err != nil || !strings.Contains(msg, "simulated failure") {
		t.Errorf("RootException = %q, %v", msg, err)
	}
	if _, err := jm(sess).Config(ctx); err != nil {
		t.Errorf("Config: %v", err)
	}
	jarID, err := jm(sess).UploadJar(ctx, "job.jar", strings.NewReader("PK"))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := jm(sess).RunJar(ctx, jarID, jobmanager.RunRequest{JobID: strings.Repeat("ab", 16)}); err != nil || id != strings.Repeat("ab", 16) {
		t.Errorf("RunJar = %q, %v", id, err)
	}

	if err := s.SetBehavior(job, simulator.Failing); err != nil {
		t.Fatal(err)
	}
	if _, err := jm(job).Job(ctx, jid); !errors.Is(err, jobmanager.ErrUnavailable) {
		t.Errorf("failing JobManager: %v", err)
	}
	s.SetBehavior(job, simulator.Hanging)
	hctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	began := time.Now()
	_, err = jm(job).Job(hctx, jid)
	cancel()
	if !errors.Is(err, jobmanager.ErrUnavailable) || time.Since(began) < 150*time.Millisecond {
		t.Errorf("hanging JobManager answered %v after %s", err, time.Since(began))
	}
	s.SetBehavior(job, simulator.Normal)
	if err := jm(job).Cancel(ctx, jid); err != nil {
		t.Fatal(err)
	}
	if app, _ := s.App(job); app.State != "FINISHED" || app.Jobs[jid].State != "CANCELED" {
		t.Errorf("after cancel: %s, job %s", app.State, app.Jobs[jid].State)
	}
	if _, err := jm(job).Job(ctx, jid); !errors.Is(err, jobmanager.ErrUnavailable) {
		t.Errorf("JobManager of an ended application: %v", err)
	}
	if c := s.Calls(); c.JobManager["GET jobs/overview"] != 1 || simulator.Total(c.JobManager) < 8 {
		t.Errorf("calls %v", c.JobManager)
	}
}

// TestRemote drives a simulator through its control API as another process would: applications added in a
// batch, their states and behaviours changed, read back, and the calls a JobManager reached over
// Remote.Dial counted.
func TestRemote(t *testing.T) {
	t.Parallel()
	s := start(t, simulator.Options{})
	srv := httptest.NewServer(s.ControlHandler())
	t.Cleanup(srv.Close)
	ctx := t.Context()
	r, err := simulator.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if r.RMURL() != s.RMURL() {
		t.Errorf("RMURL = %q, want %q", r.RMURL(), s.RMURL())
	}
	ids, err := r.AddApps(ctx, simulator.AppSpec{Session: true, SessionJobs: 2, Tags: []string{ident.TagKindSession}}, 3)
	if err != nil || len(ids) != 3 {
		t.Fatalf("AddApps = %v, %v", ids, err)
	}
	app, ok := r.App(ctx, ids[1])
	if !ok || app.ID != ids[1] || len(app.JobOrder) != 2 || app.Jobs[app.JobOrder[0]].State != "RUNNING" {
		t.Fatalf("App = %+v, %t", app, ok)
	}
	if err := r.SetJobState(ctx, ids[1], app.JobOrder[0], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAppState(ctx, ids[2], "FINISHED"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetBehavior(ctx, ids[0], simulator.Failing); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.App(ids[1]); got.Jobs[app.JobOrder[0]].State != "CANCELED" {
		t.Errorf("job state after SetJobState: %s", got.Jobs[app.JobOrder[0]].State)
	}
	if got, _ := s.App(ids[2]); got.State != "FINISHED" || got.FinalStatus != "SUCCEEDED" {
		t.Errorf("application after SetAppState: %s/%s", got.State, got.FinalStatus)
	}
	if got, _ := s.App(ids[0]); got.Behavior != simulator.Failing {
		t.Errorf("behaviour after SetBehavior: %v", got.Behavior)
	}
	if _, ok := r.App(ctx, "application_1_9999"); ok {
		t.Error("App found an unknown application")
	}
	if err := r.SetAppState(ctx, "application_1_9999", "FINISHED"); !errors.Is(err, simulator.ErrUnknown) {
		t.Errorf("SetAppState of an unknown application: %v", err)
	}
	if _, err := r.AddApps(ctx, simulator.AppSpec{}, 0); err == nil {
		t.Error("AddApps of none was accepted")
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: r.Dial}, Timeout: 5 * time.Second}
	jm, err := jobmanager.New("http://"+app.Host+":8081", hc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jm.Jobs(ctx); err != nil {
		t.Fatal(err)
	}
	calls, err := r.Calls(ctx)
	if err != nil || calls.JobManager["GET jobs/overview"] != 1 {
		t.Errorf("Calls = %+v, %v", calls.JobManager, err)
	}
}
