package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/keytab"
)

// fakeKeytabStore holds keytabs by id: principal, owner and content.
type fakeKeytabStore struct{ keytabs map[string]keytab.Keytab }

func (f *fakeKeytabStore) Add(_ context.Context, _ io.Reader, principal, owner string) (keytab.Keytab, error) {
	k := keytab.Keytab{ID: fmt.Sprintf("%032x", len(f.keytabs)+100), Principal: principal, Owner: owner}
	f.keytabs[k.ID] = k
	return k, nil
}
func (f *fakeKeytabStore) Get(ctx context.Context, id string) (keytab.Keytab, error) {
	k, _, err := f.Read(ctx, id)
	return k, err
}
func (f *fakeKeytabStore) List(context.Context) ([]keytab.Keytab, error) {
	var out []keytab.Keytab
	for _, k := range f.keytabs {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b keytab.Keytab) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
func (f *fakeKeytabStore) Delete(_ context.Context, id string) error {
	if _, ok := f.keytabs[id]; !ok {
		return fmt.Errorf("delete keytab %s: %w", id, keytab.ErrNotFound)
	}
	delete(f.keytabs, id)
	return nil
}
func (f *fakeKeytabStore) Read(_ context.Context, id string) (keytab.Keytab, []byte, error) {
	k, ok := f.keytabs[id]
	if !ok {
		return keytab.Keytab{}, nil, fmt.Errorf("read keytab %s: %w", id, keytab.ErrNotFound)
	}
	return k, []byte("keys of " + k.Principal), nil
}

// Keytab ids of the tests, and the store holding them.
var (
	aliceGatewayKT = strings.Repeat("1", 32) // alice's upload of the gateway user's keytab
	aliceOwnKT     = strings.Repeat("2", 32) // alice's upload of her own keytab
	bobGatewayKT   = strings.Repeat("4", 32) // bob's upload of the gateway user's keytab
	legacyKT       = strings.Repeat("5", 32) // stored before keytabs had owners
	missingKT      = strings.Repeat("3", 32)
)

func newKeytabStore() *fakeKeytabStore {
	return &fakeKeytabStore{keytabs: map[string]keytab.Keytab{
		aliceGatewayKT: {ID: aliceGatewayKT, Principal: "yarngate/gw.example.com@EXAMPLE.COM", Owner: "alice"},
		aliceOwnKT:     {ID: aliceOwnKT, Principal: "alice@EXAMPLE.COM", Owner: "alice"},
		bobGatewayKT:   {ID: bobGatewayKT, Principal: "yarngate@EXAMPLE.COM", Owner: "bob"},
		legacyKT:       {ID: legacyKT, Principal: "yarngate@EXAMPLE.COM"},
	}}
}

func newTestKeytabService(t *testing.T, store keytabStore) *KeytabService {
	t.Helper()
	ks, err := NewKeytabService(KeytabOptions{Store: store, User: "yarngate", Admins: Admins{Groups: []string{"yarngate-admins"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestLaunchWithKeytab: a launch ships a keytab its caller may use (owner or administrator) whose principal
// is of the user the cluster runs as: the caller with impersonation, the gateway's user without; another's
// keytab is not found, another user's principal a mismatch.
func TestLaunchWithKeytab(t *testing.T) {
	for _, tc := range []struct {
		name      string
		caller    authn.Principal
		noImp     bool // impersonation off: the cluster runs as the gateway's user
		disabled  bool
		session   bool
		keytabID  string
		err       error
		field     string // of an invalid_spec
		principal string // shipped
	}{
		// The cluster runs as its caller: the caller's own keytab, not the gateway user's.
		{name: "the caller's own principal", caller: alice, keytabID: aliceOwnKT, principal: "alice@EXAMPLE.COM"},
		{name: "a session with the caller's own principal", caller: alice, session: true, keytabID: aliceOwnKT, principal: "alice@EXAMPLE.COM"},
		{name: "the gateway user's keytab", caller: alice, keytabID: aliceGatewayKT, err: ErrKeytabUserMismatch},
		{name: "an administrator, with another's keytab of another user", caller: admin, keytabID: bobGatewayKT, err: ErrKeytabUserMismatch},
		// Without impersonation the cluster runs as the gateway's user, not as its caller.
		{name: "impersonation off: the owner, with the gateway user's keytab", caller: alice, noImp: true, keytabID: aliceGatewayKT, principal: "yarngate/gw.example.com@EXAMPLE.COM"},
		{name: "impersonation off: a session of the owner", caller: alice, noImp: true, session: true, keytabID: aliceGatewayKT, principal: "yarngate/gw.example.com@EXAMPLE.COM"},
		{name: "impersonation off: an administrator, with another's keytab", caller: admin, noImp: true, keytabID: bobGatewayKT, principal: "yarngate@EXAMPLE.COM"},
		{name: "impersonation off: an administrator, with a keytab without owner", caller: admin, noImp: true, keytabID: legacyKT, principal: "yarngate@EXAMPLE.COM"},
		{name: "impersonation off: the caller's own principal", caller: alice, noImp: true, keytabID: aliceOwnKT, err: ErrKeytabUserMismatch},
		{name: "impersonation off: a session with the caller's own principal", caller: alice, noImp: true, session: true, keytabID: aliceOwnKT, err: ErrKeytabUserMismatch},
		{name: "another's keytab", caller: alice, keytabID: bobGatewayKT, err: ErrKeytabNotFound},
		{name: "a session with another's keytab", caller: bob, session: true, keytabID: aliceGatewayKT, err: ErrKeytabNotFound},
		{name: "a keytab without owner", caller: alice, keytabID: legacyKT, err: ErrKeytabNotFound},
		{name: "not stored", caller: alice, keytabID: missingKT, err: ErrKeytabNotFound},
		{name: "malformed id", caller: alice, keytabID: "nope", field: "keytabId"},
		{name: "without Kerberos", caller: alice, disabled: true, keytabID: aliceGatewayKT, field: "keytabId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			s.opts.Admins = Admins{Groups: []string{"yarngate-admins"}}
			s.opts.Impersonation.Disabled = tc.noImp
			if !tc.disabled {
				s.opts.Keytabs = newTestKeytabService(t, newKeytabStore())
			}
			ctx := authn.WithPrincipal(t.Context(), tc.caller)
			var err error
			if tc.session {
				_, _, err = s.CreateSession(ctx, api.SessionRequest{KeytabID: tc.keytabID}, "")
			} else {
				req := jobRequest(goodID)
				req.KeytabID = tc.keytabID
				_, _, err = s.Submit(ctx, req, "")
			}
			var spec *api.SpecError
			switch {
			case tc.field != "":
				if !errors.As(err, &spec) || spec.Problems[0].Field != tc.field {
					t.Fatalf("err = %v, want invalid_spec on %s", err, tc.field)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
			specs := s.launcher.specs
			if tc.err != nil || tc.field != "" {
				if len(specs) != 0 {
					t.Errorf("a refused keytab reached the launcher: %+v", specs)
				}
				return
			}
			if len(specs) != 1 || specs[0].Keytab == nil || specs[0].Keytab.Principal != tc.principal ||
				string(specs[0].Keytab.Data) != "keys of "+tc.principal {
				t.Errorf("launch specs %+v, want the keytab of %s", specs, tc.principal)
			}
		})
	}
}

// TestKeytabOwnership: a keytab is its uploader's; only the owner and administrators list, get and delete
// it, and to anyone else it is not found.
func TestKeytabOwnership(t *testing.T) {
	store := newKeytabStore()
	ks := newTestKeytabService(t, store)
	up, err := ks.Upload(as(carol), strings.NewReader("keytab"), "yarngate@EXAMPLE.COM")
	if err != nil || up.Owner != "carol" {
		t.Fatalf("Upload = %+v, %v; want carol's", up, err)
	}
	// Without a principal in the context (no authentication), the caller is the gateway's user.
	gw, err := ks.Upload(t.Context(), strings.NewReader("keytab"), "yarngate@EXAMPLE.COM")
	if err != nil || gw.Owner != "yarngate" {
		t.Fatalf("Upload without a caller = %+v, %v; want the gateway user's", gw, err)
	}
	for _, tc := range []struct {
		caller authn.Principal
		sees   []string
	}{
		{alice, []string{aliceGatewayKT, aliceOwnKT}},
		{bob, []string{bobGatewayKT}},
		{carol, []string{up.ID}},
		{nobody, nil},
		{admin, []string{aliceGatewayKT, aliceOwnKT, bobGatewayKT, legacyKT, up.ID, gw.ID}},
	} {
		t.Run(tc.caller.User, func(t *testing.T) {
			list, err := ks.List(as(tc.caller))
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, k := range list {
				listed = append(listed, k.ID)
			}
			if !slices.Equal(sortedCopy(listed), sortedCopy(tc.sees)) {
				t.Errorf("List = %v, want %v", listed, tc.sees)
			}
			for id := range store.keytabs {
				seen := slices.Contains(tc.sees, id)
				_, err := ks.Get(as(tc.caller), id)
				if seen != (err == nil) || !seen && !errors.Is(err, ErrStoredKeytabNotFound) {
					t.Errorf("Get(%s) = %v, want seen=%v (else not found)", id, err, seen)
				}
				if seen {
					continue
				}
				if err := ks.Delete(as(tc.caller), id); !errors.Is(err, ErrStoredKeytabNotFound) {
					t.Errorf("Delete(%s) = %v, want not found", id, err)
				}
			}
		})
	}
	if len(store.keytabs) != 6 {
		t.Fatalf("refused deletes removed keytabs: %d left", len(store.keytabs))
	}
	if err := ks.Delete(as(alice), aliceOwnKT); err != nil {
		t.Errorf("the owner's Delete = %v", err)
	}
	if err := ks.Delete(as(admin), bobGatewayKT); err != nil {
		t.Errorf("an administrator's Delete = %v", err)
	}
	if _, ok := store.keytabs[aliceOwnKT]; ok || len(store.keytabs) != 4 {
		t.Errorf("after two deletes: %d keytabs", len(store.keytabs))
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestKeytabUserOf: the principal is mapped to a user by KeytabOptions.UserOf (the auth_to_local rules),
// not by its first component alone.
func TestKeytabUserOf(t *testing.T) {
	rules, err := authn.ParseRules("RULE:[2:$1@$0](flink@EXAMPLE.COM)s/.*/yarngate/\nDEFAULT", "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeKeytabStore{keytabs: map[string]keytab.Keytab{
		aliceGatewayKT: {ID: aliceGatewayKT, Principal: "flink/gw.example.com@EXAMPLE.COM", Owner: "alice"},
		aliceOwnKT:     {ID: aliceOwnKT, Principal: "yarngate@OTHER.REALM", Owner: "alice"},
	}}
	ks, err := NewKeytabService(KeytabOptions{Store: store, User: "yarngate", UserOf: rules.ShortName})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id  string
		err error
	}{
		{aliceGatewayKT, nil},
		{aliceOwnKT, ErrKeytabUserMismatch}, // DEFAULT maps only the default realm
	} {
		if _, err := ks.forLaunch(as(alice), tc.id, "yarngate"); !errors.Is(err, tc.err) {
			t.Errorf("forLaunch(%s) = %v, want %v", store.keytabs[tc.id].Principal, err, tc.err)
		}
	}
}

func TestSessionJobRefusesKeytab(t *testing.T) {
	req := api.JobRequest{JarID: goodID, Target: targetSession, SessionID: "application_1_0001", KeytabID: strings.Repeat("1", 32)}
	_, err := normalizeJobRequest(&req)
	var spec *api.SpecError
	if !errors.As(err, &spec) || spec.Problems[0].Field != "keytabId" {
		t.Errorf("normalize = %v, want keytabId refused with target session", err)
	}
}
