package yarnclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

const appPath = "/ws/v1/cluster/apps/application_1700000000000_0042"

// haPair is a standby rm1 and an active rm2, with the client's cache pointing at rm1.
func haPair(t *testing.T) (rm1, rm2 *fakeRM, c *Client) {
	t.Helper()
	rm1, rm2 = newFakeRM(t), newFakeRM(t)
	rm1.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_standby.json"))
	rm2.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	rm2.on("GET "+appPath, jsonFile(t, 200, "app_running.json"))
	c = mustClient(t, testOptions(RM{ID: "rm1", URL: rm1.srv.URL}, RM{ID: "rm2", URL: rm2.srv.URL}))
	if err := c.SetActive("rm1"); err != nil {
		t.Fatal(err)
	}
	return rm1, rm2, c
}

func TestStandbyAnswersMoveToTheActiveRM(t *testing.T) {
	tests := []struct {
		name       string
		standby    func(t *testing.T, activeURL string) http.HandlerFunc
		wantProbes int // cluster-info probes of rm2
	}{
		{
			name: "307 with Location is followed",
			standby: func(t *testing.T, activeURL string) http.HandlerFunc {
				return text(t, 307, "standby_redirect.txt", map[string]string{"Location": activeURL + appPath + "?user.name=yarngate"})
			},
			wantProbes: 0,
		},
		{
			name: "307 without Location makes the client probe",
			standby: func(t *testing.T, _ string) http.HandlerFunc {
				return text(t, 307, "standby_no_active.txt", map[string]string{"Refresh": "5;url=/ws/v1/cluster/apps"})
			},
			wantProbes: 1,
		},
		{
			name: "200 text/plain from a standby makes the client probe",
			standby: func(t *testing.T, _ string) http.HandlerFunc {
				return text(t, 200, "standby_no_active_final.txt", nil)
			},
			wantProbes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm1, rm2, c := haPair(t)
			rm1.on("GET "+appPath, tt.standby(t, rm2.srv.URL))
			app, err := c.App(t.Context(), "application_1700000000000_0042")
			if err != nil {
				t.Fatal(err)
			}
			if app.State != StateRunning {
				t.Errorf("state %s", app.State)
			}
			if active, ok := c.ActiveRM(); !ok || active.ID != "rm2" {
				t.Errorf("ActiveRM = %+v, %v; want rm2", active, ok)
			}
			if n := len(rm2.callsTo("GET /ws/v1/cluster/info")); n != tt.wantProbes {
				t.Errorf("%d probes of rm2, want %d", n, tt.wantProbes)
			}
			// The next call goes straight to rm2.
			before := len(rm1.allCalls())
			if _, err := c.App(t.Context(), "application_1700000000000_0042"); err != nil {
				t.Fatal(err)
			}
			if after := len(rm1.allCalls()); after != before {
				t.Errorf("rm1 called again after failover")
			}
		})
	}
}

func TestRedirectResendsPOSTBody(t *testing.T) {
	rm1, rm2, c := haPair(t)
	rm1.on("POST /ws/v1/cluster/apps", text(t, 307, "standby_redirect.txt",
		map[string]string{"Location": rm2.srv.URL + "/ws/v1/cluster/apps?user.name=yarngate"}))
	rm2.on("POST /ws/v1/cluster/apps", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://rm2/ws/v1/cluster/apps/application_1700000000000_0042")
		w.WriteHeader(http.StatusAccepted)
	})
	sc := testSubmission()
	if err := c.Submit(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	posts := rm2.callsTo("POST /ws/v1/cluster/apps")
	if len(posts) != 1 {
		t.Fatalf("%d POSTs at the active RM, want 1", len(posts))
	}
	if posts[0].Body != rm1.callsTo("POST /ws/v1/cluster/apps")[0].Body || len(posts[0].Body) < 100 {
		t.Errorf("body not re-sent intact: %q", posts[0].Body)
	}
	if posts[0].User != "yarngate" {
		t.Errorf("user.name %q", posts[0].User)
	}
}

func TestConnectionErrorFailsOver(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	rm2 := newFakeRM(t)
	rm2.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	rm2.on("GET "+appPath, jsonFile(t, 200, "app_running.json"))
	c := mustClient(t, testOptions(RM{ID: "rm1", URL: deadURL}, RM{ID: "rm2", URL: rm2.srv.URL}))
	if err := c.SetActive("rm1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.App(t.Context(), "application_1700000000000_0042"); err != nil {
		t.Fatal(err)
	}
	if active, _ := c.ActiveRM(); active.ID != "rm2" {
		t.Errorf("active %+v, want rm2", active)
	}
}

func TestNoActiveRMGivesUpInBoundedTime(t *testing.T) {
	rm1, rm2 := newFakeRM(t), newFakeRM(t)
	rm1.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_standby.json"))
	rm2.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_standby.json"))
	c := mustClient(t, testOptions(RM{ID: "rm1", URL: rm1.srv.URL}, RM{ID: "rm2", URL: rm2.srv.URL}))
	start := time.Now()
	_, err := c.App(t.Context(), "application_1700000000000_0042")
	if !errors.Is(err, ErrNoActiveRM) {
		t.Fatalf("err = %v, want ErrNoActiveRM", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if len(rm1.callsTo("GET /ws/v1/cluster/info")) < 2 {
		t.Errorf("expected repeated probing")
	}
	if _, ok := c.ActiveRM(); ok {
		t.Errorf("an active RM is cached")
	}
}

func TestSetActiveUnknownID(t *testing.T) {
	c := mustClient(t, testOptions(RM{ID: "rm1", URL: "http://a:1"}, RM{ID: "rm2", URL: "http://b:1"}))
	if err := c.SetActive("rm3"); err == nil {
		t.Fatal("SetActive(rm3) succeeded")
	}
	if _, ok := c.ActiveRM(); ok {
		t.Error("active RM known before any call")
	}
	if err := c.SetActive("rm2"); err != nil {
		t.Fatal(err)
	}
	if rm, _ := c.ActiveRM(); rm.URL != "http://b:1" {
		t.Errorf("active %+v", rm)
	}
}

func TestClusterInfosReportsEveryRM(t *testing.T) {
	rm1, rm2, c := haPair(t)
	_ = rm1
	rm2.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	infos, err := c.ClusterInfos(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].HAState != HAStateStandby || infos[1].HAState != HAStateActive {
		t.Errorf("states %s %s", infos[0].HAState, infos[1].HAState)
	}
}

func TestSubmitAfterAmbiguousFailure(t *testing.T) {
	tests := []struct {
		name      string
		created   bool // whether the failed POST created the application anyway
		post      http.HandlerFunc
		wantPosts int
	}{
		{name: "application exists after a 500: no second POST", created: true,
			post: jsonFile(t, 500, "remote_exception_unavailable.json"), wantPosts: 1},
		{name: "application absent after a 503: POST again", created: false,
			post: sequence(jsonFile(t, 503, "remote_exception_unavailable.json"), accepted), wantPosts: 2},
		{name: "200 text/plain standby answer is not success", created: false,
			post: sequence(text(t, 200, "standby_no_active_final.txt", nil), accepted), wantPosts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newFakeRM(t)
			var exists atomic.Bool
			rm.on("POST /ws/v1/cluster/apps", func(w http.ResponseWriter, r *http.Request) {
				if tt.created {
					exists.Store(true)
				}
				rec := &statusRecorder{ResponseWriter: w}
				tt.post(rec, r)
				if rec.status == http.StatusAccepted { // a real RM knows what it accepted
					exists.Store(true)
				}
			})
			report := jsonFile(t, 200, "app_running.json")
			notFound := jsonFile(t, 404, "remote_exception_not_found.json")
			rm.on("GET "+appPath, func(w http.ResponseWriter, r *http.Request) {
				if exists.Load() {
					report(w, r)
					return
				}
				notFound(w, r)
			})
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			if err := c.Submit(t.Context(), testSubmission()); err != nil {
				t.Fatal(err)
			}
			if n := len(rm.callsTo("POST /ws/v1/cluster/apps")); n != tt.wantPosts {
				t.Errorf("%d POSTs, want %d", n, tt.wantPosts)
			}
		})
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestSubmitConfirmsTheApplicationWasSaved covers the window in which an RM has answered 202 but not yet
// saved the application: a failover then loses it, and Submit must submit it again (as YarnClientImpl does).
func TestSubmitConfirmsTheApplicationWasSaved(t *testing.T) {
	newSaving := []byte(`{"app":{"id":"application_1700000000000_0042","state":"NEW_SAVING","finalStatus":"UNDEFINED"}}`)
	accepted := []byte(`{"app":{"id":"application_1700000000000_0042","state":"ACCEPTED","finalStatus":"UNDEFINED"}}`)
	tests := []struct {
		name      string
		reports   []int // per GET: 0 = 404, 1 = NEW_SAVING, 2 = ACCEPTED (the last repeats)
		wantPosts int
		wantErr   bool
	}{
		{"saved at once", []int{2}, 1, false},
		{"saving, then saved", []int{1, 1, 2}, 1, false},
		{"lost in a failover, submitted again", []int{0, 2}, 2, false},
		{"lost every time", []int{0}, maxResubmits + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("POST /ws/v1/cluster/apps", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
			var gets atomic.Int32
			notFound := jsonFile(t, 404, "remote_exception_not_found.json")
			rm.on("GET "+appPath, func(w http.ResponseWriter, r *http.Request) {
				i := int(gets.Add(1)) - 1
				kind := tt.reports[min(i, len(tt.reports)-1)]
				switch kind {
				case 0:
					notFound(w, r)
				default:
					w.Header().Set("Content-Type", "application/json")
					if kind == 1 {
						w.Write(newSaving)
					} else {
						w.Write(accepted)
					}
				}
			})
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			err := c.Submit(t.Context(), testSubmission())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Submit = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
			if n := len(rm.callsTo("POST /ws/v1/cluster/apps")); n != tt.wantPosts {
				t.Errorf("%d POSTs, want %d", n, tt.wantPosts)
			}
		})
	}
}

func TestSubmitBadRequestIsNotRetried(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("POST /ws/v1/cluster/apps", jsonFile(t, 400, "remote_exception_bad_request.json"))
	c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
	err := c.Submit(t.Context(), testSubmission())
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("err = %v", err)
	}
	if n := len(rm.allCalls()); n != 1 {
		t.Errorf("%d calls, want 1 (no report lookups, no retries)", n)
	}
}

func accepted(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }
