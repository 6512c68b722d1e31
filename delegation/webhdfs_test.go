package delegation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// nameNode answers GETDELEGATIONTOKEN like WebHDFS: status and body per test, recording the query.
func nameNode(t *testing.T, status int, body string, queries *[]string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*queries = append(*queries, r.URL.RawQuery)
		if r.URL.Path != "/webhdfs/v1/" || r.URL.Query().Get("op") != "GETDELEGATIONTOKEN" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s.URL
}

const standby = `{"RemoteException":{"exception":"StandbyException","javaClassName":"org.apache.hadoop.ipc.StandbyException","message":"Operation category READ is not supported in state standby"}}`

func TestHDFSToken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nameNodes func(t *testing.T, q *[]string) []string
		user      string
		wantErr   error  // nil: a token
		wantQuery string // in the last query
		noDoas    bool
	}{
		{name: "doas another user", user: "alice", wantQuery: "doas=alice",
			nameNodes: func(t *testing.T, q *[]string) []string {
				return []string{nameNode(t, 200, `{"Token":{"urlString":"`+aliceToken+`"}}`, q)}
			}},
		{name: "own user without doas", user: "yarngate", noDoas: true, wantQuery: "service=ha-hdfs%3Ans1",
			nameNodes: func(t *testing.T, q *[]string) []string {
				return []string{nameNode(t, 200, `{"Token":{"urlString":"`+gatewayToken+`"}}`, q)}
			}},
		{name: "standby first", user: "alice", wantQuery: "renewer=yarn",
			nameNodes: func(t *testing.T, q *[]string) []string {
				return []string{nameNode(t, 403, standby, q), nameNode(t, 200, `{"Token":{"urlString":"`+aliceToken+`"}}`, q)}
			}},
		{name: "impersonation refused", user: "bob", wantErr: ErrRefused,
			nameNodes: func(t *testing.T, q *[]string) []string {
				return []string{nameNode(t, 403, `{"RemoteException":{"exception":"SecurityException","message":"Failed to obtain user group information: org.apache.hadoop.security.authorize.AuthorizationException: User: yarngate@EXAMPLE.COM is not allowed to impersonate bob"}}`, q)}
			}},
		{name: "token of someone else", user: "bob", wantErr: errors.New("issued"),
			nameNodes: func(t *testing.T, q *[]string) []string {
				return []string{nameNode(t, 200, `{"Token":{"urlString":"`+aliceToken+`"}}`, q)}
			}},
		{name: "garbage", user: "alice", wantErr: errors.New("without a token"),
			nameNodes: func(t *testing.T, q *[]string) []string { return []string{nameNode(t, 200, `<html>`, q)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queries []string
			opts := Options{NameNodes: tc.nameNodes(t, &queries), HTTPClient: http.DefaultClient, Renewer: "yarn", LoginUser: "yarngate"}
			if tc.user == "yarngate" {
				opts.Service = "ha-hdfs:ns1"
			}
			f, err := NewFetcher(opts)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := f.HDFSToken(context.Background(), tc.user)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("HDFSToken = %v", err)
			case tc.wantErr == nil && tok.Owner != tc.user:
				t.Errorf("token of %s, want %s", tok.Owner, tc.user)
			case tc.wantErr == ErrRefused && !errors.Is(err, ErrRefused):
				t.Errorf("HDFSToken = %v, want ErrRefused", err)
			case tc.wantErr != nil && (err == nil || !strings.Contains(err.Error(), tc.wantErr.Error()) && tc.wantErr != ErrRefused):
				t.Errorf("HDFSToken = %v, want an error with %q", err, tc.wantErr)
			}
			last := queries[len(queries)-1]
			if !strings.Contains(last, tc.wantQuery) || !strings.Contains(last, "kind=HDFS_DELEGATION_TOKEN") {
				t.Errorf("query %q lacks %q", last, tc.wantQuery)
			}
			if tc.noDoas == strings.Contains(last, "doas=") {
				t.Errorf("query %q: doas wanted %v", last, !tc.noDoas)
			}
		})
	}
}
