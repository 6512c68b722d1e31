package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/keytab"
)

// fakeKeytabStore holds keytabs by id: principal and content.
type fakeKeytabStore struct{ keytabs map[string]keytab.Keytab }

func (f *fakeKeytabStore) Add(context.Context, io.Reader, string) (keytab.Keytab, error) {
	return keytab.Keytab{}, errors.New("not here")
}
func (f *fakeKeytabStore) Get(ctx context.Context, id string) (keytab.Keytab, error) {
	k, _, err := f.Read(ctx, id)
	return k, err
}
func (f *fakeKeytabStore) List(context.Context) ([]keytab.Keytab, error) { return nil, nil }
func (f *fakeKeytabStore) Delete(context.Context, string) error          { return nil }
func (f *fakeKeytabStore) Read(_ context.Context, id string) (keytab.Keytab, []byte, error) {
	k, ok := f.keytabs[id]
	if !ok {
		return keytab.Keytab{}, nil, fmt.Errorf("read keytab %s: %w", id, keytab.ErrNotFound)
	}
	return k, []byte("keys of " + k.Principal), nil
}

func TestLaunchWithKeytab(t *testing.T) {
	yarngateID, aliceID, missing := strings.Repeat("1", 32), strings.Repeat("2", 32), strings.Repeat("3", 32)
	store := &fakeKeytabStore{keytabs: map[string]keytab.Keytab{
		yarngateID: {ID: yarngateID, Principal: "yarngate@EXAMPLE.COM"},
		aliceID:    {ID: aliceID, Principal: "alice@EXAMPLE.COM"},
	}}
	for _, tc := range []struct {
		name     string
		disabled bool
		session  bool
		keytabID string
		err      error
		field    string // of an invalid_spec
	}{
		{name: "the job's user", keytabID: yarngateID},
		{name: "a session with the user's keytab", session: true, keytabID: yarngateID},
		{name: "another user", keytabID: aliceID, err: ErrKeytabUserMismatch},
		{name: "a session with another user's", session: true, keytabID: aliceID, err: ErrKeytabUserMismatch},
		{name: "not stored", keytabID: missing, err: ErrKeytabNotFound},
		{name: "malformed id", keytabID: "nope", field: "keytabId"},
		{name: "without Kerberos", disabled: true, keytabID: yarngateID, field: "keytabId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			if !tc.disabled {
				s.opts.Keytabs = NewKeytabService(store, slog.New(slog.DiscardHandler))
			}
			var err error
			if tc.session {
				_, _, err = s.CreateSession(t.Context(), api.SessionRequest{KeytabID: tc.keytabID}, "")
			} else {
				req := jobRequest(goodID)
				req.KeytabID = tc.keytabID
				_, _, err = s.Submit(t.Context(), req, "")
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
			if len(specs) != 1 || specs[0].Keytab == nil || specs[0].Keytab.Principal != "yarngate@EXAMPLE.COM" ||
				string(specs[0].Keytab.Data) != "keys of yarngate@EXAMPLE.COM" {
				t.Errorf("launch specs %+v, want the keytab of yarngate", specs)
			}
		})
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
