package job

import (
	"errors"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// TestImpersonationRules: the effective user of a launch (its owner), the user it runs as, and who may
// submit for whom, under the default rules, allow-lists, deny-lists and proxy rules.
func TestImpersonationRules(t *testing.T) {
	airflow := authn.Principal{Name: "airflow/scheduler@EXAMPLE.COM", User: "airflow", Method: authn.MethodKerberos}
	cron := authn.Principal{Name: "cron", User: "cron", Method: authn.MethodToken}
	hdfsUser := authn.Principal{Name: "hdfs@EXAMPLE.COM", User: "hdfs", Method: authn.MethodKerberos}
	gateway := authn.Principal{Name: "yarngate", User: "yarngate", Method: authn.MethodNone}
	proxies := map[string]ProxyRule{
		"airflow": {Users: []string{"alice"}, Groups: []string{"etl"}},
		"cron":    {Users: []string{"*"}},
	}
	groupsOf := func(user string) []string {
		if user == "frank" {
			return []string{"etl"}
		}
		return nil
	}
	base := Impersonation{DenyUsers: []string{"root", "hdfs"}, ProxyUsers: proxies, GroupsOf: groupsOf}
	allowAnalysts := base
	allowAnalysts.Groups = []string{"analysts"}
	disabled := base
	disabled.Disabled = true

	cases := []struct {
		name      string
		imp       Impersonation
		caller    authn.Principal
		proxyUser string
		// wantOwner and wantRunAs ("" for the gateway's user); wantErr is ErrForbidden, a SpecError (errSpec) or nil.
		wantOwner, wantRunAs string
		wantErr              error
	}{
		{name: "caller runs as self", imp: base, caller: alice, wantOwner: "alice", wantRunAs: "alice"},
		{name: "gateway's own user is no impersonation", imp: base, caller: gateway, wantOwner: "yarngate"},
		{name: "proxyUser naming the caller", imp: base, caller: alice, proxyUser: "alice", wantOwner: "alice", wantRunAs: "alice"},
		{name: "denied user", imp: base, caller: hdfsUser, wantErr: ErrForbidden},
		{name: "allow-list by group admits", imp: allowAnalysts, caller: alice, wantOwner: "alice", wantRunAs: "alice"},
		{name: "allow-list by group refuses", imp: allowAnalysts, caller: bob, wantErr: ErrForbidden},
		{name: "disabled: owner is the caller, runs as the gateway", imp: disabled, caller: alice, wantOwner: "alice"},
		{name: "disabled: denied user still owns", imp: disabled, caller: hdfsUser, wantOwner: "hdfs"},
		{name: "proxy for a listed user", imp: base, caller: airflow, proxyUser: "alice", wantOwner: "alice", wantRunAs: "alice"},
		{name: "proxy for a member of a listed group", imp: base, caller: airflow, proxyUser: "frank", wantOwner: "frank", wantRunAs: "frank"},
		{name: "proxy for an unlisted user", imp: base, caller: airflow, proxyUser: "bob", wantErr: ErrForbidden},
		{name: "proxy rule by full principal", imp: Impersonation{ProxyUsers: map[string]ProxyRule{"airflow/scheduler@EXAMPLE.COM": {Users: []string{"bob"}}}},
			caller: airflow, proxyUser: "bob", wantOwner: "bob", wantRunAs: "bob"},
		{name: "proxy wildcard", imp: base, caller: cron, proxyUser: "bob", wantOwner: "bob", wantRunAs: "bob"},
		{name: "proxy wildcard still denies", imp: base, caller: cron, proxyUser: "root", wantErr: ErrForbidden},
		{name: "proxy for the gateway's user", imp: base, caller: cron, proxyUser: "yarngate", wantOwner: "yarngate"},
		{name: "no proxy rights", imp: base, caller: bob, proxyUser: "alice", wantErr: ErrForbidden},
		{name: "allow-list applies to the proxied user", imp: allowAnalysts, caller: cron, proxyUser: "bob", wantErr: ErrForbidden},
		{name: "malformed proxyUser", imp: base, caller: cron, proxyUser: "a b", wantErr: errSpec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			s.opts.Impersonation = tc.imp
			a, err := s.actFor(as(tc.caller), tc.proxyUser)
			var se *api.SpecError
			switch {
			case tc.wantErr == errSpec:
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a SpecError", err)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if a.owner != tc.wantOwner || a.runAs != tc.wantRunAs || a.caller.Name != tc.caller.Name {
				t.Errorf("owner %q, runAs %q, caller %q; want %q, %q, %q", a.owner, a.runAs, a.caller.Name, tc.wantOwner, tc.wantRunAs, tc.caller.Name)
			}
		})
	}
}

// errSpec stands for "a SpecError" in the table above.
var errSpec = errors.New("spec error")

// TestSubmitForProxyUser: a job submitted for another user belongs to that user, records its submitter,
// runs as that user, and is the owner's to see; a refused proxy submission launches nothing.
func TestSubmitForProxyUser(t *testing.T) {
	airflow := authn.Principal{Name: "airflow", User: "airflow", Method: authn.MethodToken}
	s := newTestService(t, nil)
	s.opts.Impersonation = Impersonation{ProxyUsers: map[string]ProxyRule{"airflow": {Users: []string{"alice"}}}}
	req := jobRequest(goodID)
	req.ProxyUser = "alice"
	job, _, err := s.Submit(as(airflow), req, "")
	if err != nil {
		t.Fatal(err)
	}
	if job.Owner != "alice" || job.SubmittedBy != "airflow" {
		t.Errorf("owner %q, submittedBy %q", job.Owner, job.SubmittedBy)
	}
	if got := s.launcher.specs[0].User; got != "alice" {
		t.Errorf("launched as %q, want alice", got)
	}
	if _, err := s.Job(as(alice), job.ID); err != nil {
		t.Errorf("the owner cannot see it: %v", err)
	}
	if _, err := s.Job(as(airflow), job.ID); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("the submitter sees it without an ACL: %v", err)
	}
	req.ProxyUser = "bob"
	if _, _, err := s.Submit(as(airflow), req, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("for bob: %v, want forbidden", err)
	}
	req.ProxyUser = "alice"
	if _, _, err := s.Submit(as(bob), req, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("bob for alice: %v, want forbidden", err)
	}
	if n := len(s.launcher.specs); n != 1 {
		t.Errorf("%d launches, want 1", n)
	}
}

// TestProxySubmissionCompletesAdoptedRecord: when the reconciler adopted the application before the launch
// recorded it, the launch completes the adopted record with its owner and submitter.
func TestProxySubmissionCompletesAdoptedRecord(t *testing.T) {
	airflow := authn.Principal{Name: "airflow@EXAMPLE.COM", User: "airflow", Method: authn.MethodKerberos}
	s := newTestService(t, nil)
	s.opts.Impersonation = Impersonation{ProxyUsers: map[string]ProxyRule{"airflow": {Users: []string{"alice"}}}}
	const app = "application_1767225600000_0100" // the fake launcher's first id
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Owner: "alice"},
		observe.Status{State: "ACCEPTED", YARN: observe.YARN{ApplicationID: app, State: "ACCEPTED", User: "alice"}})
	req := jobRequest(goodID)
	req.ProxyUser = "alice"
	job, _, err := s.Submit(as(airflow), req, "")
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != app || job.Owner != "alice" || job.SubmittedBy != "airflow@EXAMPLE.COM" {
		t.Errorf("job %s owner %q submittedBy %q", job.ID, job.Owner, job.SubmittedBy)
	}
}
