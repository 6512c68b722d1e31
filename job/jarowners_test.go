package job

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// memJars is a content-addressed jar store in memory: the id is the body itself (tests upload ids).
type memJars struct {
	mu   sync.Mutex
	jars map[string]hdfs.Jar
}

func (m *memJars) Put(_ context.Context, body io.Reader, name string) (hdfs.PutResult, error) {
	b, _ := io.ReadAll(body)
	m.mu.Lock()
	defer m.mu.Unlock()
	id := string(b)
	j, ok := m.jars[id]
	if !ok {
		j = hdfs.Jar{ID: id, Name: name}
		m.jars[id] = j
	}
	return hdfs.PutResult{Jar: j, Created: !ok}, nil
}

func (m *memJars) Get(_ context.Context, id string) (hdfs.Jar, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j, ok := m.jars[id]; ok {
		return j, nil
	}
	return hdfs.Jar{}, hdfs.ErrNotFound
}

func (m *memJars) List(context.Context) ([]hdfs.Jar, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []hdfs.Jar
	for _, j := range m.jars {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b hdfs.Jar) int { return cmpString(a.ID, b.ID) })
	return out, nil
}

func (m *memJars) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jars[id]; !ok {
		return hdfs.ErrNotFound
	}
	delete(m.jars, id)
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ids(jars []hdfs.Jar) []string {
	var out []string
	for _, j := range jars {
		out = append(out, j.ID)
	}
	return out
}

// TestJarOwnership: a jar belongs to who uploaded it; others do not see it, use it or delete it; the same
// bytes uploaded by two users are one jar with two owners; it leaves storage with its last owner, not while
// a live job runs it; administrators see and delete every jar; unowned (older) jars are the gateway's.
func TestJarOwnership(t *testing.T) {
	s := newTestService(t, nil)
	s.opts.Admins = Admins{Groups: []string{"yarngate-admins"}}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	store := &memJars{jars: map[string]hdfs.Jar{"legacy": {ID: "legacy"}}}
	jars := NewJarService(store, 1<<20, slog.New(slog.DiscardHandler), metrics)
	own := &JarOwnership{Registry: s.reg, Admins: s.opts.Admins, User: "yarngate"}
	jars.SetOwnership(own)
	s.opts.Jars = own
	upload := func(p context.Context, id string) {
		t.Helper()
		if _, err := jars.Upload(p, UploadRequest{Body: strings.NewReader(id), DeclaredSize: -1}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(p context.Context) []string {
		t.Helper()
		l, err := jars.List(p)
		if err != nil {
			t.Fatal(err)
		}
		return ids(l)
	}
	upload(as(alice), "shared")
	upload(as(alice), "alices")
	upload(as(bob), "shared")
	for _, tc := range []struct {
		who  string
		ctx  context.Context
		want []string
	}{
		{"alice", as(alice), []string{"alices", "shared"}}, {"bob", as(bob), []string{"shared"}}, {"eve", as(nobody), nil},
		{"an administrator", as(admin), []string{"alices", "legacy", "shared"}},
		{"the gateway's user", context.Background(), []string{"legacy"}},
	} {
		if got := list(tc.ctx); !slices.Equal(got, tc.want) {
			t.Errorf("%s lists %v, want %v", tc.who, got, tc.want)
		}
	}
	if _, err := jars.Get(as(bob), "alices"); !errors.Is(err, hdfs.ErrNotFound) {
		t.Errorf("bob gets alice's jar: %v, want not found", err)
	}
	if err := jars.Delete(as(bob), "alices"); !errors.Is(err, hdfs.ErrNotFound) {
		t.Errorf("bob deletes alice's jar: %v, want not found", err)
	}
	// A job may name only its caller's jars.
	req := jobRequest("alices")
	if _, _, err := s.Submit(as(bob), req, ""); !errors.Is(err, ErrJarNotFound) {
		t.Errorf("bob runs alice's jar: %v, want jar not found", err)
	}
	// alice's job runs the shared jar: bob deletes his ownership (the jar stays for alice), alice cannot
	// delete it while the job runs.
	const app = "application_1767225600000_0301"
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Owner: "alice", Target: "application",
		Spec: []byte(`{"jarId":"shared"}`)}, observe.Status{State: "RUNNING", YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}})
	if err := jars.Delete(as(bob), "shared"); err != nil {
		t.Fatalf("bob deletes his ownership of the shared jar: %v", err)
	}
	if _, ok := store.jars["shared"]; !ok || slices.Contains(list(as(bob)), "shared") {
		t.Fatalf("after bob's delete: stored %v, bob lists %v; want it stored, not bob's", ok, list(as(bob)))
	}
	if err := jars.Delete(as(alice), "shared"); !errors.Is(err, ErrJarInUse) {
		t.Fatalf("alice deletes the jar her running job runs: %v, want in use", err)
	}
	if _, err := s.opts.Registry.Update(t.Context(), app, func(r *registry.Record) (bool, error) {
		r.Terminal, r.State = true, "FINISHED"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := jars.Delete(as(alice), "shared"); err != nil {
		t.Fatalf("after the job ended: %v", err)
	}
	if _, ok := store.jars["shared"]; ok {
		t.Fatal("the jar stayed in storage after its last owner deleted it")
	}
	if err := jars.Delete(as(admin), "alices"); err != nil {
		t.Fatalf("an administrator deletes alice's jar: %v", err)
	}
	if _, ok := store.jars["alices"]; ok {
		t.Fatal("an administrator's delete left the jar in storage")
	}
}
