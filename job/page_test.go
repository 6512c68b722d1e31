package job

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// TestListPages: pages follow each other newest first without gaps or repeats, the last has no cursor,
// records created while a client pages do not shift the pages it has yet to read, limits default and are
// capped, and a cursor the gateway did not hand out is refused.
func TestListPages(t *testing.T) {
	s := newTestService(t, nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 25
	var ids []string
	for i := range n {
		id := fmt.Sprintf("application_1767225600000_%04d", i)
		ids = append(ids, id)
		// Pairs share a creation time: the id breaks the tie.
		seed(t, s, registry.Record{ID: id, Kind: registry.KindJob, ApplicationID: id, CreatedAt: base.Add(time.Duration(i/2) * time.Second)},
			observe.Status{State: "RUNNING", YARN: observe.YARN{ApplicationID: id, State: "RUNNING"}})
	}
	sess := "application_1767225600000_9999"
	seed(t, s, registry.Record{ID: sess, Kind: registry.KindSession, ApplicationID: sess, CreatedAt: base},
		observe.Status{State: "RUNNING", YARN: observe.YARN{ApplicationID: sess, State: "RUNNING"}})

	tests := []struct {
		name  string
		limit int
		pages []int // sizes
	}{
		{"default limit", 0, []int{n}},
		{"pages of 10", 10, []int{10, 10, 5}},
		{"exact pages", 5, []int{5, 5, 5, 5, 5}},
		{"one by one", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var sizes []int
			cursor := ""
			for page := 0; ; page++ {
				if page == 2 && tc.limit == 10 {
					// A record created between pages comes first in later lists, not in this walk.
					late := "application_1767225600000_0500"
					seed(t, s, registry.Record{ID: late, Kind: registry.KindJob, ApplicationID: late, CreatedAt: base.Add(time.Hour)},
						observe.Status{State: "RUNNING", YARN: observe.YARN{ApplicationID: late, State: "RUNNING"}})
					defer func() {
						rec, err := s.reg.Get(t.Context(), late)
						if err == nil {
							err = s.reg.Delete(t.Context(), rec)
						}
						if err != nil {
							t.Fatal(err)
						}
					}()
				}
				l, err := s.List(t.Context(), "", Page{Limit: tc.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(l.Jobs))
				for _, j := range l.Jobs {
					got = append(got, j.ID)
				}
				if l.NextCursor == "" {
					break
				}
				cursor = l.NextCursor
			}
			if len(got) != n {
				t.Fatalf("listed %d jobs, want %d: %v", len(got), n, got)
			}
			for i, id := range got {
				if want := ids[n-1-i]; id != want {
					t.Fatalf("job %d = %s, want %s (newest first)", i, id, want)
				}
			}
			if tc.pages != nil && fmt.Sprint(sizes) != fmt.Sprint(tc.pages) {
				t.Errorf("page sizes %v, want %v", sizes, tc.pages)
			}
		})
	}
	if l, err := s.ListSessions(t.Context(), Page{Limit: 1}); err != nil || len(l.Sessions) != 1 || l.Sessions[0].ID != sess || l.NextCursor != "" {
		t.Errorf("ListSessions = %+v, %v", l, err)
	}
	for _, bad := range []string{"%%%", "bm90LWEtY3Vyc29y", encodeCursor(pageKey{1, "not-an-id"})} {
		if _, err := s.List(t.Context(), "", Page{Cursor: bad}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	if got := (Page{Limit: 1 << 20}).limit(); got != MaxPageLimit {
		t.Errorf("limit capped at %d, want %d", got, MaxPageLimit)
	}
}

// TestWaitUnknownIDLeavesNoWaiter: a long poll on an id that does not exist answers not found at once and
// leaves nothing behind in the registry.
func TestWaitUnknownIDLeavesNoWaiter(t *testing.T) {
	s := newTestService(t, nil)
	for _, id := range []string{"application_1767225600000_0404", "application_1767225600000_0404.0123456789abcdef0123456789abcdef"} {
		start := time.Now()
		if _, err := s.Wait(t.Context(), id, api.StateRunning, time.Minute); !errors.Is(err, ErrJobNotFound) {
			t.Errorf("Wait(%s) = %v", id, err)
		}
		if _, err := s.WaitSession(t.Context(), id, api.SessionRunning, time.Minute); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("WaitSession(%s) = %v", id, err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("not found took %s", time.Since(start))
		}
	}
	if n := s.reg.Waiting(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

// TestListPagesOfWhatTheCallerSees: pages hold only what the caller may see, however many records it may not
// see lie between (the walk of the creation-time index goes on past them), including session jobs it sees
// through its session's ACL.
func TestListPagesOfWhatTheCallerSees(t *testing.T) {
	s := newTestService(t, nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := observe.Status{State: "RUNNING", YARN: observe.YARN{State: "RUNNING"}}
	sess := "application_1767225600000_9000"
	seed(t, s, registry.Record{ID: sess, Kind: registry.KindSession, ApplicationID: sess, Owner: "bob", CreatedAt: base,
		ACL: &registry.ACL{Modify: []string{"alice"}}}, st)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("application_1767225600000_%04d", i)
		rec := registry.Record{ID: id, Kind: registry.KindJob, ApplicationID: id, Owner: "bob", CreatedAt: base.Add(time.Duration(i) * time.Second)}
		switch {
		case i%9 == 0:
			rec.Owner = "alice"
		case i%13 == 0:
			rec.ID, rec.Kind = ident.SessionJobID(sess, fmt.Sprintf("%032x", i)), registry.KindSessionJob
			rec.ApplicationID = sess
		}
		if rec.Owner == "alice" || rec.Kind == registry.KindSessionJob {
			want = append([]string{rec.ID}, want...)
		}
		seed(t, s, rec, st)
	}
	ctx := as(alice)
	for _, limit := range []int{1, 2, 3, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			cursor := ""
			for range 20 {
				l, err := s.List(ctx, "", Page{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if len(l.Jobs) > limit || len(l.Jobs) == 0 && l.NextCursor != "" {
					t.Fatalf("page of %d with cursor %q", len(l.Jobs), l.NextCursor)
				}
				for _, j := range l.Jobs {
					got = append(got, j.ID)
				}
				if cursor = l.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v", got, want)
			}
		})
	}
}
