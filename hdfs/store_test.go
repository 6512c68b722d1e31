package hdfs

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/yarngate/yarngate/hdfs/webhdfs"
)

func TestValidID(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{strings.ToUpper(good), false},
		{good[:63], false},
		{good + "0", false},
		{"../../etc/passwd", false},
		{strings.Repeat("g", 64), false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.want {
				t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestStoredName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "job.jar", "job.jar"},
		{"control characters dropped", "a\x00b\nc\x7f.jar", "abc.jar"},
		{"invalid UTF-8 dropped", "a\xffb.jar", "ab.jar"},
		{"bounded at a character boundary", strings.Repeat("é", maxNameLen), strings.Repeat("é", maxNameLen/2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := storedName(tc.in); got != tc.want {
				t.Errorf("storedName() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewValidatesOptions(t *testing.T) {
	valid := Options{Addresses: []string{"nn:8020"}, User: "u", Root: "/user/u/.yarngate", MaxSize: 1 << 20}
	tests := []struct {
		name   string
		mutate func(*Options)
		ok     bool
	}{
		{name: "valid", mutate: func(*Options) {}, ok: true},
		{name: "no addresses", mutate: func(o *Options) { o.Addresses = nil }},
		{name: "no user", mutate: func(o *Options) { o.User = "" }},
		{name: "relative root", mutate: func(o *Options) { o.Root = "stage" }},
		{name: "root is /", mutate: func(o *Options) { o.Root = "/" }},
		{name: "unclean root", mutate: func(o *Options) { o.Root = "/a/../b" }},
		{name: "no max size", mutate: func(o *Options) { o.MaxSize = 0 }},
		{name: "negative timeout", mutate: func(o *Options) { o.IOTimeout = -1 }},
		{name: "kerberos", mutate: func(o *Options) { o.Kerberos = validKerberos() }, ok: true},
		{name: "kerberos without client", mutate: func(o *Options) { o.Kerberos = validKerberos(); o.Kerberos.Client = nil }},
		{name: "kerberos without SPN", mutate: func(o *Options) { o.Kerberos = validKerberos(); o.Kerberos.ServicePrincipal = "" }},
		{name: "kerberos with unknown protection", mutate: func(o *Options) {
			o.Kerberos = validKerberos()
			o.Kerberos.DataTransferProtection = []string{"authentication", "secret"}
		}},
		{name: "kerberos with privacy and no WebHDFS", mutate: func(o *Options) {
			o.Kerberos = validKerberos()
			o.Kerberos.DataTransferProtection = []string{"authentication", "privacy"}
		}},
		{name: "kerberos with integrity and WebHDFS", ok: true, mutate: func(o *Options) {
			o.Kerberos = validKerberos()
			o.Kerberos.DataTransferProtection = []string{"integrity"}
			o.WebHDFS = mustWebHDFS(t)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.mutate(&o)
			s, err := New(o)
			if (err == nil) != tc.ok {
				t.Fatalf("New() error = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && s.opts.FSURI != "hdfs://nn:8020" {
				t.Errorf("FSURI default = %q", s.opts.FSURI)
			}
		})
	}
}

func validKerberos() *Kerberos {
	return &Kerberos{Client: func() (*krb.Client, error) { return nil, errNoTicket }, ServicePrincipal: "hdfs/_HOST",
		DataTransferProtection: []string{"authentication"}}
}

func mustWebHDFS(t *testing.T) *webhdfs.Client {
	t.Helper()
	c, err := webhdfs.New(webhdfs.Options{NameNodes: []string{"http://nn:9870"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errNoTicket = errors.New("kerberos: no valid ticket")

// TestKerberosWithoutTicket: without a ticket no connection is tried, and the store reports HDFS unavailable
// with the reason.
func TestKerberosWithoutTicket(t *testing.T) {
	s, err := New(Options{Addresses: []string{"localhost:1"}, User: "u", Root: "/user/u/.yarngate", MaxSize: 1 << 20,
		Kerberos: validKerberos()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	err = s.Ping(t.Context())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errNoTicket) {
		t.Errorf("Ping() = %v, want ErrUnavailable wrapping the login's error", err)
	}
}

func TestUnreachableNameNode(t *testing.T) {
	// A listener that is closed at once gives a port nobody answers on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := New(Options{Addresses: []string{addr}, User: "u", Root: "/r", MaxSize: 1, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]func() error{
		"Ping":   func() error { return s.Ping(ctx) },
		"List":   func() error { _, err := s.List(ctx); return err },
		"Put":    func() error { _, err := s.Put(ctx, strings.NewReader("x"), "x.jar"); return err },
		"Delete": func() error { return s.Delete(ctx, strings.Repeat("a", 64)) },
	}
	for name, f := range checks {
		t.Run(name, func(t *testing.T) {
			if err := f(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s() = %v, want ErrUnavailable", name, err)
			}
		})
	}
	t.Run("invalid id is checked before connecting", func(t *testing.T) {
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Get() = %v, want ErrInvalidID", err)
		}
	})
}

func TestIODeadline(t *testing.T) {
	s := &Store{opts: Options{IOTimeout: time.Minute}}
	if d := time.Until(s.ioDeadline(t.Context())); d < 59*time.Second || d > time.Minute {
		t.Errorf("deadline without ctx deadline is %v away", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if d := time.Until(s.ioDeadline(ctx)); d > time.Second {
		t.Errorf("deadline ignores the earlier ctx deadline: %v away", d)
	}
}

func TestRetryReplicating(t *testing.T) {
	replicating := &os.PathError{Op: "create", Path: "/x", Err: gohdfs.ErrReplicating}
	otherErr := errors.New("datanode gone")
	tests := []struct {
		name      string
		answers   []error // one per call; the last repeats
		wantCalls int
		wantErr   error
	}{
		{name: "first close succeeds", answers: []error{nil}, wantCalls: 1},
		{name: "succeeds after two replicating answers", answers: []error{replicating, replicating, nil}, wantCalls: 3},
		{name: "other errors are not retried", answers: []error{otherErr}, wantCalls: 1, wantErr: otherErr},
		{name: "bounded", answers: []error{replicating}, wantCalls: maxCloseAttempts, wantErr: gohdfs.ErrReplicating},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retryReplicating(t.Context(), time.Millisecond, func() error {
				a := tc.answers[min(calls, len(tc.answers)-1)]
				calls++
				return a
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := retryReplicating(ctx, time.Hour, func() error { return replicating })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

// TestUploadSlotsAreTheirOwn: uploads draw clients from a pool of their own; when every upload slot is
// taken, a new upload gives up after UploadWait with ErrNoUploadSlot while the rest of the Store still gets
// clients.
func TestUploadSlotsAreTheirOwn(t *testing.T) {
	nilClient := func() (*gohdfs.Client, error) { return nil, nil } // never used: the test only leases
	s := &Store{
		opts:    Options{UploadSlots: 1, UploadWait: 10 * time.Millisecond},
		pool:    newPool(1, nilClient),
		uploads: newPool(1, nilClient),
	}
	held, err := s.uploadSlot(t.Context())
	if err != nil {
		t.Fatalf("first upload slot: %v", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"all slots taken", t.Context(), ErrNoUploadSlot},
		{"caller gone while waiting", canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.uploadSlot(tt.ctx); !errors.Is(err, tt.want) {
				t.Errorf("uploadSlot = %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, context.Canceled) && errors.Is(err, ErrNoUploadSlot) {
				t.Errorf("a canceled caller is not told the slots are full: %v", err)
			}
		})
	}
	other, err := s.pool.get(t.Context())
	if err != nil {
		t.Fatalf("the rest of the store has no client while uploads are full: %v", err)
	}
	other.release()
	held.release()
	again, err := s.uploadSlot(t.Context())
	if err != nil {
		t.Fatalf("upload slot after release: %v", err)
	}
	again.release()
}
