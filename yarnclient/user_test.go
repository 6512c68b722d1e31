package yarnclient

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// TestAsUser checks the user a call names: the client's own with user.name, another one as user.name with
// simple authentication, or as doAs beside the client's own user behind SPNEGO; and that a standby's
// redirect keeps it.
func TestAsUser(t *testing.T) {
	cases := []struct {
		name               string
		doAs               bool
		user               string
		wantName, wantDoAs string
	}{
		{name: "no user", user: "", wantName: "yarngate"},
		{name: "own user", user: "yarngate", wantName: "yarngate"},
		{name: "simple: user.name", user: "alice", wantName: "alice"},
		{name: "kerberos: own user, no doAs", doAs: true, user: "yarngate", wantName: "yarngate"},
		{name: "kerberos: doAs", doAs: true, user: "alice", wantName: "yarngate", wantDoAs: "alice"},
		{name: "kerberos: no user", doAs: true, wantName: "yarngate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			standby, active := newFakeRM(t), newFakeRM(t)
			standby.on("POST /ws/v1/cluster/apps/new-application", func(w http.ResponseWriter, r *http.Request) {
				// A standby's redirect that drops the query.
				http.Redirect(w, r, active.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
			})
			active.on("POST /ws/v1/cluster/apps/new-application", jsonFile(t, 200, "new_application.json"))
			opts := testOptions(RM{ID: "rm1", URL: standby.srv.URL}, RM{ID: "rm2", URL: active.srv.URL})
			opts.DoAs = tc.doAs
			c := mustClient(t, opts)
			if err := c.SetActive("rm1"); err != nil {
				t.Fatal(err)
			}
			ctx := context.Context(t.Context())
			if tc.user != "" {
				ctx = AsUser(ctx, tc.user)
			}
			if _, err := c.NewApplication(ctx); err != nil {
				t.Fatal(err)
			}
			for _, rm := range []*fakeRM{standby, active} {
				calls := rm.callsTo("POST /ws/v1/cluster/apps/new-application")
				if len(calls) != 1 {
					t.Fatalf("%d calls, want 1", len(calls))
				}
				q := url.Values(calls[0].Query)
				if got := q["user.name"]; len(got) != 1 || got[0] != tc.wantName {
					t.Errorf("user.name = %q, want %q", got, tc.wantName)
				}
				if got := q.Get("doAs"); got != tc.wantDoAs {
					t.Errorf("doAs = %q, want %q", got, tc.wantDoAs)
				}
			}
		})
	}
}
