package webhdfs

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeFS is a NameNode and a DataNode over an in-memory tree that record who asked for what: every
// NameNode call must carry doas, and what it creates belongs to that user.
type fakeFS struct {
	mu    sync.Mutex
	files map[string]FileStatus
	data  map[string]string
	calls []string // "OP path doas"
	dn    *httptest.Server
	nn    *httptest.Server
}

func newFakeFS(t *testing.T) *fakeFS {
	f := &fakeFS{files: map[string]FileStatus{}, data: map[string]string{}}
	f.dn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/webhdfs/v1")
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Method != http.MethodPut || r.URL.Query().Get("delegation") != "tok-"+r.URL.Query().Get("owner") {
			http.Error(w, "bad datanode request", http.StatusBadRequest)
			return
		}
		f.data[name] = string(b)
		f.files[name] = FileStatus{Length: int64(len(b)), Owner: r.URL.Query().Get("owner"), Permission: "644", Type: "FILE"}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(f.dn.Close)
	f.nn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/webhdfs/v1")
		q := r.URL.Query()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, q.Get("op")+" "+name+" "+q.Get("doas"))
		st, ok := f.files[name]
		switch q.Get("op") {
		case "MKDIRS":
			f.files[name] = FileStatus{Owner: q.Get("doas"), Permission: q.Get("permission"), Type: "DIRECTORY"}
			io.WriteString(w, `{"boolean":true}`)
		case "SETPERMISSION":
			st.Permission = q.Get("permission")
			f.files[name] = st
		case "GETFILESTATUS":
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"RemoteException":{"exception":"FileNotFoundException","message":"no"}}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"FileStatus":{"length":`+strconv.FormatInt(st.Length, 10)+`,"owner":"`+st.Owner+`","permission":"`+st.Permission+`","type":"`+st.Type+`","modificationTime":1}}`)
		case "CREATE":
			http.Redirect(w, r, f.dn.URL+r.URL.Path+"?op=CREATE&delegation=tok-"+q.Get("doas")+"&owner="+q.Get("doas"), http.StatusTemporaryRedirect)
		case "DELETE":
			for p := range f.files {
				if p == name || strings.HasPrefix(p, name+"/") {
					delete(f.files, p)
				}
			}
			io.WriteString(w, `{"boolean":`+map[bool]string{true: "true", false: "false"}[ok]+`}`)
		default:
			http.Error(w, "unknown op", http.StatusBadRequest)
		}
	}))
	t.Cleanup(f.nn.Close)
	return f
}

// TestActAs: directories, files, modes and removal as another user (doas on every NameNode call; the
// content sent to the DataNode the NameNode redirects to).
func TestActAs(t *testing.T) {
	f := newFakeFS(t)
	c, err := New(Options{NameNodes: []string{f.nn.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.MkdirAll(ctx, "/s/.flink/app_1", 0o700, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.MkdirAll(ctx, "/s/ha", fs.ModeSticky|0o777, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(ctx, "/s/.flink/app_1/config.yaml", []byte("a: b\n"), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Chmod(ctx, "/s/.flink/app_1/config.yaml", 0o600, "alice"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stat(ctx, "/s/.flink/app_1/config.yaml", "alice")
	if err != nil || st.Owner != "alice" || st.Length != 5 || st.Mode() != 0o600 {
		t.Errorf("config.yaml: %+v (mode %v), %v", st, st.Mode(), err)
	}
	if f.data["/s/.flink/app_1/config.yaml"] != "a: b\n" {
		t.Errorf("content %q", f.data["/s/.flink/app_1/config.yaml"])
	}
	if st, err := c.Stat(ctx, "/s/ha", ""); err != nil || st.Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("ha: %+v mode %v, %v", st, st.Mode(), err)
	}
	if err := c.RemoveAll(ctx, "/s/.flink/app_1", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "/s/.flink/app_1/config.yaml", "alice"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after removal: %v", err)
	}
	if err := c.RemoveAll(ctx, "/s/missing", "alice"); err != nil {
		t.Errorf("removing a missing path: %v", err)
	}
	want := []string{"MKDIRS /s/.flink/app_1 alice", "SETPERMISSION /s/.flink/app_1 alice", "MKDIRS /s/ha ", "SETPERMISSION /s/ha ",
		"CREATE /s/.flink/app_1/config.yaml alice", "SETPERMISSION /s/.flink/app_1/config.yaml alice",
		"GETFILESTATUS /s/.flink/app_1/config.yaml alice", "GETFILESTATUS /s/ha ", "DELETE /s/.flink/app_1 alice",
		"GETFILESTATUS /s/.flink/app_1/config.yaml alice", "DELETE /s/missing alice"}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
}
