package yarnclient

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClusterInfo(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))

	info, err := c.ClusterInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := ClusterInfo{ID: 1700000000000, StartedOn: 1700000000000, State: "STARTED", HAState: "ACTIVE",
		RMStateStoreName:           "org.apache.hadoop.yarn.server.resourcemanager.recovery.ZKRMStateStore",
		ResourceManagerVersion:     "3.4.2",
		HadoopVersion:              "3.4.2",
		HAZooKeeperConnectionState: "CONNECTED"}
	if *info != want {
		t.Errorf("cluster info\n got %+v\nwant %+v", *info, want)
	}
}

func TestNewApplication(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("POST /ws/v1/cluster/apps/new-application", jsonFile(t, 200, "new_application.json"))
	c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))

	na, err := c.NewApplication(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if na.ApplicationID != "application_1700000000000_0042" || na.MaximumResourceCapability != (Resource{MemoryMB: 8192, VCores: 4}) {
		t.Errorf("got %+v", na)
	}
}

func TestAppReport(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/apps/application_1700000000000_0042", jsonFile(t, 200, "app_running.json"))
	c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))

	app, err := c.App(t.Context(), "application_1700000000000_0042")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"state", app.State, StateRunning},
		{"finalStatus", app.FinalStatus, FinalUndefined},
		{"tags", app.ApplicationTags, []string{"yarngate", "yg-job-7f3a"}},
		{"trackingUrl", app.TrackingURL, "http://localhost:18088/proxy/application_1700000000000_0042/"},
		{"amHostHttpAddress", app.AMHostHTTPAddress, "localhost:18042"},
		{"amRPCAddress", app.AMRPCAddress, "localhost:41234"},
		{"amContainerLogs", app.AMContainerLogs, "http://localhost:18042/node/containerlogs/container_1700000000000_0042_01_000001/yarngate"},
		{"applicationType", app.ApplicationType, "Apache Flink"},
		{"started", app.Started(), time.UnixMilli(1700000100000)},
		{"finished", app.Finished().IsZero(), true},
		{"terminal", app.State.Terminal(), false},
		{"hasTag", app.HasTag("YG-JOB-7F3A"), true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestAppsFilterAndList(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		filter    AppsFilter
		wantQuery map[string]string
		wantIDs   []string
	}{
		{
			name:    "all filters",
			fixture: "apps_list.json",
			filter: AppsFilter{
				States: []AppState{StateAccepted, StateRunning}, ApplicationTypes: []string{"Apache Flink"},
				ApplicationTags: []string{"YG-Job-7F3A"}, User: "yarngate", Queue: "default", Limit: 5,
				DeSelects: []string{"resourceRequests", "timeouts"}, FinalStatus: FinalUndefined,
			},
			wantQuery: map[string]string{
				"states": "ACCEPTED,RUNNING", "applicationTypes": "Apache Flink", "applicationTags": "yg-job-7f3a",
				"user": "yarngate", "queue": "default", "limit": "5", "deSelects": "resourceRequests,timeouts",
				"finalStatus": "UNDEFINED", "user.name": "yarngate",
			},
			wantIDs: []string{"application_1700000000000_0042", "application_1700000000000_0041"},
		},
		{
			name:      "empty list is null",
			fixture:   "apps_empty.json",
			wantQuery: map[string]string{"user.name": "yarngate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("GET /ws/v1/cluster/apps", jsonFile(t, 200, tt.fixture))
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			apps, err := c.Apps(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range apps {
				ids = append(ids, a.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("ids %v, want %v", ids, tt.wantIDs)
			}
			q := rm.callsTo("GET /ws/v1/cluster/apps")[0].Query
			got := map[string]string{}
			for k, v := range q {
				got[k] = strings.Join(v, "|")
			}
			if !reflect.DeepEqual(got, tt.wantQuery) {
				t.Errorf("query %v, want %v", got, tt.wantQuery)
			}
		})
	}
}

func TestAppsFilterRejectsCommaTag(t *testing.T) {
	c := mustClient(t, testOptions(RM{URL: "http://127.0.0.1:1"}))
	_, err := c.Apps(t.Context(), AppsFilter{ApplicationTags: []string{"a,b"}})
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("err = %v, want ErrBadRequest", err)
	}
}

func TestAppAttempts(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/apps/application_1700000000000_0042/appattempts", jsonFile(t, 200, "appattempts.json"))
	c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
	atts, err := c.AppAttempts(t.Context(), "application_1700000000000_0042")
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 1 || atts[0].AppAttemptState != "RUNNING" || atts[0].ContainerID != "container_1700000000000_0042_01_000001" {
		t.Errorf("attempts %+v", atts)
	}
}

func TestKill(t *testing.T) {
	const id = "application_1700000000000_0042"
	tests := []struct {
		name       string
		put        http.HandlerFunc
		report     http.HandlerFunc
		want       AppState
		wantPolls  int
		wantErrIs  error
		wantPutCnt int
	}{
		{
			name:   "accepted then polled until killed",
			put:    jsonFile(t, 202, "appstate_accepted.json"),
			report: sequence(jsonFile(t, 200, "app_accepted_recorded.json"), jsonFile(t, 200, "app_running.json"), jsonFile(t, 200, "app_killed_recorded.json")),
			want:   StateKilled, wantPolls: 3, wantPutCnt: 1,
		},
		{
			name: "already killed answers 200",
			put:  jsonFile(t, 200, "appstate_killed.json"),
			want: StateKilled, wantPolls: 0, wantPutCnt: 1,
		},
		{
			name:      "unknown application",
			put:       jsonFile(t, 404, "remote_exception_not_found.json"),
			wantErrIs: ErrNotFound, wantPutCnt: 1,
		},
		{
			name:   "503 is retried",
			put:    sequence(jsonFile(t, 503, "remote_exception_unavailable.json"), jsonFile(t, 202, "appstate_accepted.json")),
			report: jsonFile(t, 200, "app_killed.json"),
			want:   StateKilled, wantPolls: 1, wantPutCnt: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("PUT /ws/v1/cluster/apps/"+id+"/state", tt.put)
			if tt.report != nil {
				rm.on("GET /ws/v1/cluster/apps/"+id, tt.report)
			}
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			got, err := c.Kill(t.Context(), id, "test kill")
			if tt.wantErrIs != nil {
				if !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantErrIs)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("Kill = %q, %v; want %q", got, err, tt.want)
			}
			puts := rm.callsTo("PUT /ws/v1/cluster/apps/" + id + "/state")
			if len(puts) != tt.wantPutCnt {
				t.Errorf("%d PUTs, want %d", len(puts), tt.wantPutCnt)
			}
			if puts[0].Body != `{"state":"KILLED","diagnostics":"test kill"}` {
				t.Errorf("PUT body %s", puts[0].Body)
			}
			if n := len(rm.callsTo("GET /ws/v1/cluster/apps/" + id)); n != tt.wantPolls {
				t.Errorf("%d report polls, want %d", n, tt.wantPolls)
			}
		})
	}
}

func TestMalformedIDsFailWithoutIO(t *testing.T) {
	c := mustClient(t, testOptions(RM{URL: "http://127.0.0.1:1"}))
	calls := map[string]func() error{
		"App":         func() error { _, err := c.App(t.Context(), "app_1"); return err },
		"AppAttempts": func() error { _, err := c.AppAttempts(t.Context(), "../x"); return err },
		"Kill":        func() error { _, err := c.Kill(t.Context(), "", ""); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

// TestAnswerTooLarge: an answer over Options.MaxAnswer fails the call with ErrAnswerTooLarge, once (it is
// not retried), instead of being cut short and misread.
func TestAnswerTooLarge(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	big := `{"apps":{"app":[` + strings.Repeat(`{"id":"application_1700000000000_0001","state":"RUNNING"},`, 100) + `{}]}}`
	rm.on("GET /ws/v1/cluster/apps", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(big))
	})
	tests := []struct {
		name    string
		max     int64
		wantErr error
	}{
		{"under the cap", int64(len(big)), nil},
		{"over the cap", int64(len(big)) - 1, ErrAnswerTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(RM{URL: rm.srv.URL})
			o.MaxAnswer = tc.max
			before := len(rm.callsTo("GET /ws/v1/cluster/apps"))
			apps, err := mustClient(t, o).Apps(t.Context(), AppsFilter{})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && len(apps) != 101) {
				t.Fatalf("Apps = %d apps, %v; want %v", len(apps), err, tc.wantErr)
			}
			if tc.wantErr != nil && !errors.Is(err, ErrUnexpectedResponse) {
				t.Errorf("%v does not wrap ErrUnexpectedResponse", err)
			}
			if n := len(rm.callsTo("GET /ws/v1/cluster/apps")) - before; n != 1 {
				t.Errorf("%d calls, want 1", n)
			}
		})
	}
}
