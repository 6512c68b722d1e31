package job

import (
	"context"
	"errors"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

var (
	alice   = authn.Principal{Name: "alice@EXAMPLE.COM", User: "alice", Groups: []string{"analysts"}, Method: authn.MethodKerberos}
	bob     = authn.Principal{Name: "bob@EXAMPLE.COM", User: "bob", Groups: []string{"ops"}, Method: authn.MethodKerberos}
	carol   = authn.Principal{Name: "carol", User: "carol", Groups: []string{"analysts"}, Method: authn.MethodToken}
	admin   = authn.Principal{Name: "root-ish", User: "dana", Groups: []string{"yarngate-admins"}, Method: authn.MethodJWT}
	nobody  = authn.Principal{Name: "eve", User: "eve", Method: authn.MethodToken}
	anyAuth = []authn.Principal{alice, bob, carol, admin, nobody}
)

func as(p authn.Principal) context.Context { return authn.WithPrincipal(context.Background(), p) }

// TestAccessMatrix: who may see, list, cancel and stop what, and submit into which session. A record
// someone may not see is not found; one they may see but not act on is forbidden.
func TestAccessMatrix(t *testing.T) {
	s := newTestService(t, nil)
	s.opts.Admins = Admins{Groups: []string{"yarngate-admins"}}
	const (
		private   = "application_1767225600000_0201" // alice's, no ACL
		shared    = "application_1767225600000_0202" // alice's; analysts view, bob modifies
		session   = "application_1767225600000_0203" // bob's session; alice may submit
		sessionJb = session + ".0123456789abcdef0123456789abcdef"
	)
	running := func(app string) observe.Status {
		return observe.Status{State: "RUNNING", JobManager: "http://jm:1", YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}}
	}
	seed(t, s, registry.Record{ID: private, Kind: registry.KindJob, ApplicationID: private, Owner: "alice", Target: "application"}, running(private))
	seed(t, s, registry.Record{ID: shared, Kind: registry.KindJob, ApplicationID: shared, Owner: "alice", Target: "application",
		ACL: &registry.ACL{View: []string{"group:analysts"}, Modify: []string{"bob"}}}, running(shared))
	seed(t, s, registry.Record{ID: session, Kind: registry.KindSession, ApplicationID: session, Owner: "bob",
		ACL: &registry.ACL{Modify: []string{"alice"}}}, running(session))
	seed(t, s, registry.Record{ID: sessionJb, Kind: registry.KindSessionJob, ApplicationID: session, Owner: "carol", Target: "session"},
		running(session))

	type want struct{ see, modify bool }
	matrix := map[string]map[string]want{
		private: {"alice": {true, true}, "bob": {}, "carol": {}, "dana": {true, true}, "eve": {}},
		shared:  {"alice": {true, true}, "bob": {true, true}, "carol": {true, false}, "dana": {true, true}, "eve": {}},
		// carol's job in bob's session: bob, and alice, who may modify the session, act on it too.
		sessionJb: {"alice": {true, true}, "bob": {true, true}, "carol": {true, true}, "dana": {true, true}, "eve": {}},
	}
	for id, row := range matrix {
		for _, p := range anyAuth {
			w := row[p.User]
			t.Run(id+"/"+p.User, func(t *testing.T) {
				_, err := s.Job(as(p), id)
				if w.see != (err == nil) || !w.see && !errors.Is(err, ErrJobNotFound) {
					t.Errorf("get: %v, want seen=%v (else not found)", err, w.see)
				}
				listed := false
				jobs, _ := s.List(as(p), "", Page{})
				for _, j := range jobs.Jobs {
					listed = listed || j.ID == id
				}
				if listed != w.see {
					t.Errorf("listed %v, want %v", listed, w.see)
				}
				_, err = s.Cancel(as(p), id, true)
				switch {
				case !w.see && !errors.Is(err, ErrJobNotFound):
					t.Errorf("cancel: %v, want not found", err)
				case w.see && !w.modify && !errors.Is(err, ErrForbidden):
					t.Errorf("cancel: %v, want forbidden", err)
				case w.modify && (errors.Is(err, ErrForbidden) || errors.Is(err, ErrJobNotFound)):
					t.Errorf("cancel: %v, want allowed", err)
				}
			})
		}
	}
	// The session: bob's; alice may submit into it (modify implies view); carol, whose job runs in it, may
	// neither see nor submit.
	for _, tc := range []struct {
		p          authn.Principal
		see, write bool
	}{{alice, true, true}, {bob, true, true}, {carol, false, false}, {admin, true, true}, {nobody, false, false}} {
		t.Run("session/"+tc.p.User, func(t *testing.T) {
			_, err := s.Session(as(tc.p), session)
			if tc.see != (err == nil) {
				t.Errorf("get session: %v, want seen=%v", err, tc.see)
			}
			req := jobRequest(goodID)
			req.Target, req.SessionID = "session", session
			_, _, err = s.Submit(as(tc.p), req, "")
			switch {
			case !tc.see && !errors.Is(err, ErrSessionNotFound):
				t.Errorf("submit into the session: %v, want session not found", err)
			case tc.see && !tc.write && !errors.Is(err, ErrForbidden):
				t.Errorf("submit into the session: %v, want forbidden", err)
			case tc.write && err != nil:
				t.Errorf("submit into the session: %v", err)
			}
		})
	}
	if _, err := s.StopSession(as(carol), session); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("carol stops bob's session: %v, want not found", err)
	}
}

// TestOwnerAndACLRecorded: a job belongs to its caller, with the ACL of its request; an idempotency key is
// the caller's own: the same key from another user launches another job.
func TestOwnerAndACLRecorded(t *testing.T) {
	l := &fakeLauncher{}
	s := newTestService(t, l)
	req := jobRequest(goodID)
	req.ACL = &api.ACL{View: []string{"group:analysts", "*"}, Modify: []string{"bob"}}
	j, created, err := s.Submit(as(alice), req, "nightly")
	if err != nil || !created || j.Owner != "alice" || j.ACL == nil || len(j.ACL.View) != 2 || j.ACL.Modify[0] != "bob" {
		t.Fatalf("alice's job %+v, %v, %v", j, created, err)
	}
	other, created, err := s.Submit(as(bob), jobRequest(goodID), "nightly")
	if err != nil || !created || other.ID == j.ID || other.Owner != "bob" {
		t.Fatalf("bob's job with alice's key: %+v, %v, %v; want a job of his own", other, created, err)
	}
	again, created, err := s.Submit(as(alice), req, "nightly")
	if err != nil || created || again.ID != j.ID {
		t.Fatalf("alice's retry: %+v, %v, %v", again, created, err)
	}
	for _, bad := range []api.ACL{{View: []string{"al ice"}}, {Modify: []string{"group:"}}, {View: []string{"$(id)"}}} {
		r := jobRequest(goodID)
		r.ACL = &bad
		var se *api.SpecError
		if _, _, err := s.Submit(as(alice), r, ""); !errors.As(err, &se) {
			t.Errorf("ACL %+v: %v, want an invalid spec", bad, err)
		}
	}
}
