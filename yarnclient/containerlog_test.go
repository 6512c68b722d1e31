package yarnclient

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestContainerLog(t *testing.T) {
	nm := newFakeRM(t) // any httptest server will do as a NodeManager
	nm.on("GET /ws/v1/node/containerlogs/container_1_0001_01_000001/jobmanager.log", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/plain" {
			// The real NodeManager answers 503 to a request for JSON.
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("size") != "-4096" || r.URL.Query().Get("user.name") != "alice" {
			t.Errorf("query = %v", r.URL.Query())
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "LogContents:\nhello\n")
	})
	opts := testOptions(RM{URL: "http://127.0.0.1:1"})
	opts.User = "alice"
	c := mustClient(t, opts)
	link := nm.srv.URL + "/node/containerlogs/container_1_0001_01_000001/alice"

	got, err := c.ContainerLog(t.Context(), link, "jobmanager.log", 4096)
	if err != nil || !strings.Contains(got, "hello") {
		t.Fatalf("ContainerLog = %q, %v", got, err)
	}
	if _, err := c.ContainerLog(t.Context(), link, "taskmanager.log", 10); err == nil {
		t.Fatal("a log the NodeManager does not have was read")
	}
	for _, bad := range []string{"", "http://nm:8042/cluster/app/x", "http://nm:8042/node/containerlogs/app_1/u"} {
		if _, err := c.ContainerLog(t.Context(), bad, "jobmanager.log", 10); !errors.Is(err, ErrBadRequest) {
			t.Errorf("link %q: err = %v, want ErrBadRequest", bad, err)
		}
	}
	if _, err := c.ContainerLog(t.Context(), link, "../secret", 10); !errors.Is(err, ErrBadRequest) {
		t.Errorf("file ../secret: err = %v, want ErrBadRequest", err)
	}
}
