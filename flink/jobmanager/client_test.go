package jobmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTest(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRejectsBadBase(t *testing.T) {
	for _, base := range []string{"", "localhost:8081", "ftp://x", "http://"} {
		if _, err := New(base, nil); err == nil {
			t.Errorf("New(%q) succeeded", base)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		want     error
		wantText string
	}{
		{"not found", 404, `{"errors":["Job 123 not found"]}`, ErrNotFound, "Job 123 not found"},
		{"bad request with cause", 400,
			`{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat x\nCaused by: java.util.concurrent.CompletionException: y\nCaused by: java.lang.IllegalArgumentException: failing on purpose (--fail)\n\tat z"]}`,
			ErrBadRequest, "caused by java.lang.IllegalArgumentException: failing on purpose (--fail)"},
		{"server error, not json", 500, `<html>oops</html>`, ErrUnavailable, "Internal Server Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			_, err := c.Jobs(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var je *Error
			if !errors.As(err, &je) || je.Status != tc.status {
				t.Fatalf("err = %#v, want *Error with status %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), "\tat ") {
				t.Errorf("err carries a stack trace: %q", err)
			}
		})
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, _ := New(srv.URL, nil)
	if _, err := c.Config(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestJobsAndDetail(t *testing.T) {
	c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jobs/overview":
			io.WriteString(w, `{"jobs":[{"jid":"a1","name":"j","state":"RUNNING","start-time":5,"end-time":-1}]}`)
		case "/jobs/a1":
			io.WriteString(w, `{"jid":"a1","name":"j","state":"RUNNING","vertices":[{"id":"v","name":"Source","parallelism":2,"status":"RUNNING"}]}`)
		case "/jobs/a1/exceptions":
			io.WriteString(w, `{"root-exception":"java.lang.RuntimeException: boom\n\tat x","exceptionHistory":{"entries":[]}}`)
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	jobs, err := c.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "a1" || jobs[0].State != "RUNNING" || jobs[0].State.Terminal() {
		t.Fatalf("Jobs = %+v, %v", jobs, err)
	}
	d, err := c.Job(ctx, "a1")
	if err != nil || len(d.Vertices) != 1 || d.Vertices[0].Parallelism != 2 {
		t.Fatalf("Job = %+v, %v", d, err)
	}
	msg, err := c.RootException(ctx, "a1")
	if err != nil || msg != "java.lang.RuntimeException: boom" {
		t.Fatalf("RootException = %q, %v", msg, err)
	}
}

func TestCancelAndShutdownMethods(t *testing.T) {
	var got []string
	c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI())
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{}`)
	})
	ctx := context.Background()
	if err := c.Cancel(ctx, "j/1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ShutdownCluster(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"PATCH /jobs/j%2F1?mode=cancel", "DELETE /cluster"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("requests = %v, want %v", got, want)
	}
}

func TestUploadStreamsMultipartAndRun(t *testing.T) {
	const content = "PK\x03\x04 not really a jar, but bytes to carry"
	c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/jars/upload":
			_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil {
				t.Errorf("content type: %v", err)
			}
			part, err := multipart.NewReader(r.Body, params["boundary"]).NextPart()
			if err != nil || part.FormName() != "jarfile" || part.FileName() != "job.jar" {
				t.Errorf("part = %v, %v", part, err)
				return
			}
			b, _ := io.ReadAll(part)
			if string(b) != content {
				t.Errorf("uploaded %q", b)
			}
			io.WriteString(w, `{"filename":"/tmp/flink-web/flink-web-upload/abc_job.jar","status":"success"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/jars/abc_job.jar/run":
			var req RunRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Errorf("decode: %v", err)
			}
			if req.EntryClass != "a.B" || strings.Join(req.ProgramArgsList, "|") != "x y|;#$|" || req.Parallelism != 2 {
				t.Errorf("run request = %+v", req)
			}
			io.WriteString(w, `{"jobid":"f00"}`)
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	id, err := c.UploadJar(ctx, "job.jar", strings.NewReader(content))
	if err != nil || id != "abc_job.jar" {
		t.Fatalf("UploadJar = %q, %v", id, err)
	}
	jobID, err := c.RunJar(ctx, id, RunRequest{EntryClass: "a.B", ProgramArgsList: []string{"x y", ";#$", ""}, Parallelism: 2})
	if err != nil || jobID != "f00" {
		t.Fatalf("RunJar = %q, %v", jobID, err)
	}
}

func TestUploadReaderErrorAborts(t *testing.T) {
	c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"filename":"x.jar"}`)
	})
	_, err := c.UploadJar(context.Background(), "job.jar", io.MultiReader(strings.NewReader("abc"), errReader{}))
	if err == nil {
		t.Fatal("upload of a failing reader succeeded")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestNoRedirects: a JobManager that answers with a redirect does not send the gateway's calls elsewhere, not
// even with a client that follows redirects.
func TestNoRedirects(t *testing.T) {
	elsewhere := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	t.Cleanup(other.Close)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		jm := newTest(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, status)
		})
		if _, err := jm.Jobs(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%d: Jobs = %v, want ErrUnavailable", status, err)
		}
		if err := jm.Cancel(t.Context(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%d: Cancel = %v, want ErrUnavailable", status, err)
		}
	}
	if elsewhere != 0 {
		t.Errorf("%d requests reached the redirect's target", elsewhere)
	}
}
