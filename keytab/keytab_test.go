package keytab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	krbkeytab "github.com/jcmturner/gokrb5/v8/keytab"
)

// testKeytab builds a keytab with keys for each principal (name@REALM) in two encryption types.
func testKeytab(t *testing.T, principals ...string) []byte {
	t.Helper()
	kt := krbkeytab.New()
	for _, p := range principals {
		name, realm, _ := strings.Cut(p, "@")
		for _, et := range []int32{17, 18} {
			if err := kt.AddEntry(name, realm, "secret-"+p, time.Unix(1700000000, 0), 3, et); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSelect(t *testing.T) {
	alice := testKeytab(t, "alice@EXAMPLE.COM")
	both := testKeytab(t, "alice@EXAMPLE.COM", "bob@EXAMPLE.COM")
	twoRealms := testKeytab(t, "alice@EXAMPLE.COM", "alice@OTHER.ORG")
	svc := testKeytab(t, "yarngate/host.example.com@EXAMPLE.COM")
	for _, tc := range []struct {
		name      string
		data      []byte
		principal string
		want      string // principal kept, or the error's detail
		err       error
	}{
		{"only principal, named", alice, "alice@EXAMPLE.COM", "alice@EXAMPLE.COM", nil},
		{"only principal, unnamed", alice, "", "alice@EXAMPLE.COM", nil},
		{"without realm", both, "bob", "bob@EXAMPLE.COM", nil},
		{"one of two", both, "alice@EXAMPLE.COM", "alice@EXAMPLE.COM", nil},
		{"service principal", svc, "yarngate/host.example.com@EXAMPLE.COM", "yarngate/host.example.com@EXAMPLE.COM", nil},
		{"several, unnamed", both, "", "the keytab holds several principals: name one", ErrInvalid},
		{"several realms", twoRealms, "alice", "the principal is in several realms of the keytab: name its realm", ErrInvalid},
		{"realm picks", twoRealms, "alice@OTHER.ORG", "alice@OTHER.ORG", nil},
		{"absent principal", alice, "carol@EXAMPLE.COM", "the keytab holds no key for the principal", ErrInvalid},
		{"wrong realm", alice, "alice@OTHER.ORG", "the keytab holds no key for the principal", ErrInvalid},
		{"not a keytab", []byte("PK\x03\x04 a zip"), "", "not a keytab file", ErrInvalid},
		{"truncated", alice[:len(alice)-7], "", "", ErrInvalid},
		{"empty keytab", []byte{5, 2, 0, 0, 0, 0}, "", "the keytab holds no keys", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, info, err := Select(tc.data, tc.principal)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Select = %v, want %v with %q", err, tc.err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Principal != tc.want || len(info.Keys) != 2 || info.Keys[1] != (Key{Version: 3, EncryptionType: "aes256-cts-hmac-sha1-96"}) {
				t.Errorf("info = %+v", info)
			}
			again, err := describe(kept)
			if err != nil || again.Principal != tc.want || len(again.Keys) != 2 {
				t.Errorf("the kept keytab reads back as %+v, %v", again, err)
			}
		})
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{"alice@EXAMPLE.COM": "alice", "yarngate/host@R": "yarngate", "bob": "bob", "": ""} {
		if got := ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// memFS is an in-memory FileSystem that records modes.
type memFS struct {
	mu    sync.Mutex
	files map[string][]byte
	modes map[string]fs.FileMode
	times map[string]time.Time // modification times
	now   time.Time
}

func newMemFS() *memFS {
	return &memFS{files: map[string][]byte{}, modes: map[string]fs.FileMode{}, times: map[string]time.Time{}, now: time.Unix(1800000000, 0)}
}

func (m *memFS) MkdirAll(_ context.Context, name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.modes[name] = perm | fs.ModeDir
	return nil
}

func (m *memFS) Chmod(_ context.Context, name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return fs.ErrNotExist
	}
	m.modes[name] = perm
	return nil
}

type memWriter struct {
	m    *memFS
	name string
	buf  bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Close() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.files[w.name] = w.buf.Bytes()
	return nil
}

func (m *memFS) Create(_ context.Context, name string) (io.WriteCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.modes[path.Dir(name)]; !ok {
		return nil, fmt.Errorf("create %s: %w", name, fs.ErrNotExist)
	}
	m.now = m.now.Add(time.Second)
	m.files[name], m.modes[name], m.times[name] = nil, 0o644, m.now
	return &memWriter{m: m, name: name}, nil
}

func (m *memFS) Open(_ context.Context, name string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memFS) RemoveAll(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, name)
	delete(m.modes, name)
	delete(m.times, name)
	return nil
}

func (m *memFS) ModTime(_ context.Context, name string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return time.Time{}, fmt.Errorf("stat %s: %w", name, fs.ErrNotExist)
	}
	return m.times[name], nil
}

func (m *memFS) Names(_ context.Context, dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.modes[dir]; !ok {
		return nil, fmt.Errorf("readdir %s: %w", dir, fs.ErrNotExist)
	}
	var out []string
	for n := range m.files {
		if path.Dir(n) == dir {
			out = append(out, path.Base(n))
		}
	}
	sort.Strings(out)
	return out, nil
}

func TestStore(t *testing.T) {
	files := newMemFS()
	var verified []string
	refuse := errors.New("KDC_ERR_PREAUTH_FAILED")
	s, err := New(Options{Files: files, Root: "/user/gw/.yarngate", Verify: func(_ context.Context, p string, data []byte) error {
		verified = append(verified, p)
		switch p {
		case "bob@EXAMPLE.COM":
			return refuse
		case "carol@EXAMPLE.COM":
			return fmt.Errorf("%w: dial tcp: refused", ErrVerifyUnavailable)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.List(ctx); err != nil {
		t.Fatalf("List before any upload = %v", err)
	}
	k, err := s.Add(ctx, bytes.NewReader(testKeytab(t, "alice@EXAMPLE.COM", "bob@EXAMPLE.COM")), "alice@EXAMPLE.COM", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(k.ID) || k.Principal != "alice@EXAMPLE.COM" || k.Owner != "alice" || len(k.Keys) != 2 || k.Created.IsZero() {
		t.Errorf("Add = %+v", k)
	}
	name := "/user/gw/.yarngate/keytabs/" + k.ID + ".keytab"
	if files.modes[name] != 0o600 || files.modes["/user/gw/.yarngate/keytabs"] != 0o700|fs.ModeDir {
		t.Errorf("modes: file %v, directory %v; want 0600 in 0700", files.modes[name], files.modes["/user/gw/.yarngate/keytabs"])
	}
	owner, stored, err := decodeHeader(files.files[name])
	if err != nil || owner != "alice" {
		t.Errorf("stored header: owner %q, %v; want alice", owner, err)
	}
	if info, err := describe(stored); err != nil || info.Principal != "alice@EXAMPLE.COM" {
		t.Errorf("stored keytab = %+v, %v; want alice's keys only", info, err)
	}

	for _, tc := range []struct {
		name, principal string
		body            []byte
		err             error
	}{
		{"refused by the KDC", "bob@EXAMPLE.COM", testKeytab(t, "bob@EXAMPLE.COM"), ErrRejected},
		{"KDC unreachable", "carol@EXAMPLE.COM", testKeytab(t, "carol@EXAMPLE.COM"), ErrVerifyUnavailable},
		{"no key for the principal", "dave@EXAMPLE.COM", testKeytab(t, "alice@EXAMPLE.COM"), ErrInvalid},
		{"empty", "", nil, ErrInvalid},
		{"too large", "", make([]byte, MaxSize+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Add(ctx, bytes.NewReader(tc.body), tc.principal, "alice")
			if !errors.Is(err, tc.err) {
				t.Fatalf("Add = %v, want %v", err, tc.err)
			}
			if tc.err == ErrRejected && !errors.Is(err, refuse) {
				t.Errorf("Add = %v, want the KDC's refusal wrapped", err)
			}
		})
	}
	if len(files.files) != 1 {
		t.Errorf("failed uploads left files: %d stored", len(files.files))
	}

	k2, err := s.Add(ctx, bytes.NewReader(testKeytab(t, "alice@EXAMPLE.COM")), "", "root")
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != k2.ID || list[1].ID != k.ID || list[0].Owner != "root" || list[1].Owner != "alice" {
		t.Fatalf("List = %+v, %v; want the two, newest first", list, err)
	}
	got, data, err := s.Read(ctx, k.ID)
	if err != nil || got.Principal != k.Principal || got.Owner != "alice" || !bytes.Equal(data, stored) {
		t.Errorf("Read = %+v, %d bytes, %v", got, len(data), err)
	}
	for _, tc := range []struct {
		id  string
		err error
	}{{"nothex", ErrInvalidID}, {strings.Repeat("0", 32), ErrNotFound}} {
		if _, err := s.Get(ctx, tc.id); !errors.Is(err, tc.err) {
			t.Errorf("Get(%q) = %v, want %v", tc.id, err, tc.err)
		}
		if err := s.Delete(ctx, tc.id); !errors.Is(err, tc.err) {
			t.Errorf("Delete(%q) = %v, want %v", tc.id, err, tc.err)
		}
	}
	if err := s.Delete(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if len(verified) != 4 {
		t.Errorf("Verify called for %v", verified)
	}
}

func TestHeader(t *testing.T) {
	kt := testKeytab(t, "alice@EXAMPLE.COM")
	for _, tc := range []struct {
		name    string
		stored  []byte
		owner   string
		invalid bool
	}{
		{name: "an owner", stored: append([]byte(headerMagic+`{"owner":"alice"}`+"\n"), kt...), owner: "alice"},
		{name: "an owner with a newline", stored: append([]byte(headerMagic+`{"owner":"a\nb"}`+"\n"), kt...), owner: "a\nb"},
		{name: "no header: no owner", stored: kt},
		{name: "header without its end", stored: []byte(headerMagic + `{"owner":"alice"}`), invalid: true},
		{name: "header not JSON", stored: append([]byte(headerMagic+"alice\n"), kt...), invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, data, err := decodeHeader(tc.stored)
			if tc.invalid {
				if err == nil {
					t.Fatalf("decodeHeader = %q, want an error", owner)
				}
				return
			}
			if err != nil || owner != tc.owner || !bytes.Equal(data, kt) {
				t.Errorf("decodeHeader = %q, %d bytes, %v; want %q and the keytab", owner, len(data), err, tc.owner)
			}
		})
	}
	for _, owner := range []string{"", strings.Repeat("x", maxHeader)} {
		if _, err := encodeHeader(owner); err == nil {
			t.Errorf("encodeHeader(%.10q…) accepted", owner)
		}
	}
	hdr, err := encodeHeader("a\nb")
	if err != nil || bytes.Count(hdr, []byte{'\n'}) != 1 {
		t.Errorf("encodeHeader = %q, %v; want one line", hdr, err)
	}
}
