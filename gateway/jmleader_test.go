package gateway

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// fakeLeaders is a jobManagerLeaders whose leaders the test sets.
type fakeLeaders struct {
	mu        sync.Mutex
	leaders   map[string]zk.JobManagerLeader
	watched   map[string]bool
	unwatches int
}

func newFakeLeaders() *fakeLeaders {
	return &fakeLeaders{leaders: map[string]zk.JobManagerLeader{}, watched: map[string]bool{}}
}

func (f *fakeLeaders) Watch(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched[id] = true
	return nil
}

func (f *fakeLeaders) Unwatch(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.watched, id)
	f.unwatches++
}

func (f *fakeLeaders) Leader(id string) (zk.JobManagerLeader, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaders[id], f.watched[id]
}

func (f *fakeLeaders) set(id string, l zk.JobManagerLeader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaders[id] = l
}

// uriFiles is a fileStore that only qualifies paths.
type uriFiles struct{ fileStore }

func (uriFiles) URI(name string) string { return "hdfs://nn:8020" + name }
func (uriFiles) FSURI() string          { return "hdfs://nn:8020" }

func TestApplyHA(t *testing.T) {
	ha := &JobManagerHA{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "/staging/ha", SessionTimeout: 10 * time.Second}
	tests := []struct {
		name       string
		ha         *JobManagerHA
		config     map[string]string
		wantHA     *flink.HighAvailability
		wantConfig map[string]string
		wantErr    string
	}{
		{name: "gateway without HA", config: map[string]string{}, wantConfig: map[string]string{}},
		{name: "default", ha: ha, config: map[string]string{},
			wantHA:     &flink.HighAvailability{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "hdfs://nn:8020/staging/ha"},
			wantConfig: map[string]string{"high-availability.zookeeper.client.session-timeout": "10000"}},
		{name: "job opts out", ha: ha, config: map[string]string{"high-availability.type": "NONE"},
			wantConfig: map[string]string{"high-availability.type": "NONE"}},
		{name: "job opts out with the legacy key", ha: ha, config: map[string]string{"high-availability": "none"},
			wantConfig: map[string]string{"high-availability": "none"}},
		{name: "job's own session timeout and storage", ha: ha,
			config: map[string]string{"high-availability.type": "zookeeper", "high-availability.storageDir": "hdfs://other/ha",
				"high-availability.zookeeper.client.session-timeout": "30 s"},
			wantHA: &flink.HighAvailability{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "hdfs://other/ha"},
			wantConfig: map[string]string{"high-availability.type": "zookeeper", "high-availability.storageDir": "hdfs://other/ha",
				"high-availability.zookeeper.client.session-timeout": "30 s"}},
		{name: "storage URI kept", ha: &JobManagerHA{Quorum: "zk:2181", PathRoot: "/r", StorageDir: "hdfs://ha-nn/ha"}, config: map[string]string{},
			wantHA: &flink.HighAvailability{Quorum: "zk:2181", PathRoot: "/r", StorageDir: "hdfs://ha-nn/ha"}, wantConfig: map[string]string{}},
		{name: "job sets the path root", ha: ha, config: map[string]string{"high-availability.zookeeper.path.root": "/mine"},
			wantErr: "flinkConfig.high-availability.zookeeper.path.root"},
		{name: "job sets the cluster id", ha: ha, config: map[string]string{"high-availability.cluster-id": "c1"},
			wantErr: "flinkConfig.high-availability.cluster-id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &JobService{opts: JobServiceOptions{HA: tc.ha, Files: uriFiles{}}}
			spec := flink.LaunchSpec{FlinkConfig: tc.config, Tags: []string{tagGateway}}
			err := s.applyHA(&spec)
			if tc.wantErr != "" {
				var se *api.SpecError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("applyHA() = %v, want a api.SpecError naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec.HA, tc.wantHA) {
				t.Errorf("HA = %+v, want %+v", spec.HA, tc.wantHA)
			}
			if !reflect.DeepEqual(spec.FlinkConfig, tc.wantConfig) {
				t.Errorf("flinkConfig = %v, want %v", spec.FlinkConfig, tc.wantConfig)
			}
			if tagged := len(spec.Tags) == 2 && spec.Tags[1] == tagHA; tagged != (tc.wantHA != nil) {
				t.Errorf("tags = %v", spec.Tags)
			}
		})
	}
}

// TestJobThroughJobManagerFailover walks an HA application job through the loss of its JobManager and the
// next attempt: the job never looks ended, and its JobManager link follows ZooKeeper's certain leader.
func TestJobThroughJobManagerFailover(t *testing.T) {
	const appID = "application_1700000000000_0042"
	jobID, _ := flinkJobID(appID)
	jm1 := &fakeJobManager{jobs: map[string]string{jobID: "RUNNING"}}
	srv1 := httptest.NewServer(jm1)
	jm2 := &fakeJobManager{jobs: map[string]string{}}
	srv2 := httptest.NewServer(jm2)
	t.Cleanup(srv2.Close)
	addr1, addr2 := strings.TrimPrefix(srv1.URL, "http://"), strings.TrimPrefix(srv2.URL, "http://")

	var mu sync.Mutex
	app := yarnclient.App{ID: appID, State: yarnclient.StateRunning, AMRPCAddress: addr1,
		ApplicationTags: []string{tagGateway, tagTargetPrefix + "application", tagHA}}
	s, _, _, _ := newSessionJobService(t)
	s.opts.RM = &fakeRM{app: func(id string) (*yarnclient.App, error) {
		mu.Lock()
		defer mu.Unlock()
		a := app
		return &a, nil
	}}
	leaders := newFakeLeaders()
	s.opts.Leaders = leaders

	leader := func(addr string, certain bool) zk.JobManagerLeader {
		return zk.JobManagerLeader{Known: addr != "", Address: "http://" + addr, Certain: certain, Since: time.Now()}
	}
	steps := []struct {
		name   string
		before func()
		state  api.JobState
		jm     string // links.jobManager, "" for none
	}{
		{name: "attempt 1 runs, leader not read yet", state: api.StateRunning, jm: srv1.URL},
		{name: "attempt 1 is the leader", before: func() { leaders.set(appID, leader(addr1, true)) }, state: api.StateRunning, jm: srv1.URL},
		{name: "JobManager killed, YARN not told yet", before: srv1.Close, state: api.StateStarting, jm: srv1.URL},
		{name: "YARN waits for attempt 2", before: func() { app.State, app.AMRPCAddress = yarnclient.StateAccepted, "N/A" },
			state: api.StateStarting},
		{name: "attempt 2 leads before YARN reports it running", before: func() {
			leaders.set(appID, leader(addr2, true))
			jm2.mu.Lock()
			jm2.jobs[jobID] = "INITIALIZING"
			jm2.mu.Unlock()
		}, state: api.StateStarting, jm: srv2.URL},
		{name: "back to the dead leader (a test device: znode not expired yet)", before: func() { leaders.set(appID, leader(addr1, true)) },
			state: api.StateStarting},
		{name: "attempt 2 registered, ZooKeeper still names the dead leader", before: func() {
			app.State, app.AMRPCAddress = yarnclient.StateRunning, addr2
		}, state: api.StateStarting, jm: srv2.URL},
		{name: "ZooKeeper uncertain", before: func() { leaders.set(appID, leader(addr1, false)) }, state: api.StateStarting, jm: srv2.URL},
		{name: "attempt 2 leads, job recovering", before: func() {
			leaders.set(appID, leader(addr2, true))
			jm2.mu.Lock()
			jm2.jobs[jobID] = "INITIALIZING"
			jm2.mu.Unlock()
		}, state: api.StateStarting, jm: srv2.URL},
		{name: "job restarting", before: func() { jm2.mu.Lock(); jm2.jobs[jobID] = "RESTARTING"; jm2.mu.Unlock() }, state: api.StateRunning, jm: srv2.URL},
		{name: "job runs again", before: func() { jm2.mu.Lock(); jm2.jobs[jobID] = "RUNNING"; jm2.mu.Unlock() }, state: api.StateRunning, jm: srv2.URL},
		{name: "YARN reports the leader's address under another name", before: func() {
			leaders.set(appID, leader(strings.Replace(addr2, "127.0.0.1", "localhost", 1), true))
		}, state: api.StateRunning, jm: strings.Replace(srv2.URL, "127.0.0.1", "localhost", 1)},
		{name: "application ended", before: func() {
			app.State, app.FinalStatus, app.AMRPCAddress = yarnclient.StateFinished, yarnclient.FinalKilled, ""
		}, state: api.StateCanceled},
	}
	for _, st := range steps {
		if st.before != nil {
			mu.Lock()
			st.before()
			mu.Unlock()
		}
		job, err := s.Job(t.Context(), appID)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := ""
		if job.Links.JobManager != nil {
			got = *job.Links.JobManager
		}
		if job.State != st.state || got != st.jm {
			t.Errorf("%s: state %s, jobManager %q; want %s, %q", st.name, job.State, got, st.state, st.jm)
		}
		if job.Terminal != st.state.Terminal() {
			t.Errorf("%s: terminal = %v", st.name, job.Terminal)
		}
	}
	if _, watched := leaders.Leader(appID); watched || leaders.unwatches != 1 {
		t.Errorf("after the end: watched %v, %d unwatches; want unwatched once", watched, leaders.unwatches)
	}
}

// TestSessionJobRecoveringAfterFailover: a new JobManager of an HA session that does not know a job yet is
// recovering it, so the job is STARTING, not LOST; past the recovery grace it is LOST.
func TestSessionJobRecoveringAfterFailover(t *testing.T) {
	s, jm, _, _ := newSessionJobService(t)
	inner := s.opts.RM.(*fakeRM).app
	s.opts.RM = &fakeRM{app: func(id string) (*yarnclient.App, error) {
		app, err := inner(id)
		if app != nil {
			app.ApplicationTags = append(app.ApplicationTags, tagHA)
		}
		return app, err
	}}
	leaders := newFakeLeaders()
	s.opts.Leaders = leaders
	flinkID := strings.Repeat("ab", 16)
	id := sessionJobID(testSessionID, flinkID)
	s.sessions.addJob(id, sessionJobRecord{name: "j", createdAt: time.Now()})
	jm.mu.Lock()
	jm.jobs[flinkID] = "RUNNING"
	jm.mu.Unlock()
	if job, err := s.Job(t.Context(), id); err != nil || job.State != api.StateRunning {
		t.Fatalf("before = %+v, %v", job, err)
	}

	tests := []struct {
		name  string
		since time.Time
		want  api.JobState
	}{
		{name: "new leader recovering", since: time.Now(), want: api.StateStarting},
		{name: "leader past the grace", since: time.Now().Add(-2 * jobRecoveryGrace), want: api.StateLost},
	}
	jm.mu.Lock()
	delete(jm.jobs, flinkID) // the new JobManager does not know it (yet)
	jm.mu.Unlock()
	for _, tc := range tests {
		leaders.Watch(testSessionID)
		leaders.set(testSessionID, zk.JobManagerLeader{Known: true, Certain: true, Address: sessionAM(t, s), Since: tc.since})
		job, err := s.Job(t.Context(), id)
		if err != nil || job.State != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, job.State, err, tc.want)
		}
	}
}

// sessionAM returns the JobManager URL YARN reports for the test session.
func sessionAM(t *testing.T, s *JobService) string {
	t.Helper()
	app, err := s.opts.RM.App(t.Context(), testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	return amURL(app)
}

func TestHoldDuringFailover(t *testing.T) {
	tests := []struct {
		name    string
		last    api.JobState // "" for a job never seen
		derived api.JobState
		want    api.JobState
	}{
		{name: "new job accepted", derived: api.StateAccepted, want: api.StateAccepted},
		{name: "accepted after submitted", last: api.StateSubmitted, derived: api.StateAccepted, want: api.StateAccepted},
		{name: "new attempt after running", last: api.StateRunning, derived: api.StateAccepted, want: api.StateStarting},
		{name: "new attempt after starting", last: api.StateStarting, derived: api.StateSubmitted, want: api.StateStarting},
		{name: "running stays", last: api.StateRunning, derived: api.StateRunning, want: api.StateRunning},
		{name: "terminal passes", last: api.StateRunning, derived: api.StateFailed, want: api.StateFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &JobService{tracker: newJobTracker()}
			if tc.last != "" {
				s.tracker.observe(api.Job{ID: "j", State: tc.last})
			}
			if got := s.holdDuringFailover("j", tc.derived); got != tc.want {
				t.Errorf("holdDuringFailover(%s after %s) = %s, want %s", tc.derived, tc.last, got, tc.want)
			}
		})
	}
}
