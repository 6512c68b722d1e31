package webhdfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// content is the file every fake DataNode serves at /data/file.
var content = func() []byte {
	b := make([]byte, 10_000)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// fakeDataNode serves content for requests carrying the delegation token tok, honouring offset and length.
func fakeDataNode(t *testing.T, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		q := r.URL.Query()
		if q.Get("delegation") != "tok" || r.Header.Get("Authorization") != "" || r.Header.Get("X-Client") != "datanode" {
			http.Error(w, `{"RemoteException":{"exception":"SecurityException","message":"no token"}}`, http.StatusForbidden)
			return
		}
		if r.URL.Path != "/webhdfs/v1/data/file" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"RemoteException":{"exception":"FileNotFoundException","javaClassName":"java.io.FileNotFoundException","message":"File does not exist"}}`)
			return
		}
		off, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
		end := int64(len(content))
		if l := q.Get("length"); l != "" {
			n, _ := strconv.ParseInt(l, 10, 64)
			end = min(end, off+n)
		}
		w.Write(content[off:end])
	}))
	t.Cleanup(s.Close)
	return s
}

// fakeNameNode redirects OPEN to dn, passing the query on and adding a delegation token, or answers with
// the given status and body instead.
func fakeNameNode(t *testing.T, dn string, hits *atomic.Int32, status int, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("X-Client") != "namenode" {
			t.Errorf("NameNode request not sent by the NameNode client")
		}
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
		q := r.URL.Query()
		if q.Get("op") != "OPEN" {
			t.Errorf("op = %q", q.Get("op"))
		}
		q.Set("delegation", "tok")
		loc := dn + r.URL.Path + "?" + q.Encode()
		if dn == "" {
			loc = r.URL.Path + "?" + q.Encode() // relative: the NameNode itself
		}
		http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(s.Close)
	return s
}

// tagged is a client without redirects that marks its requests, so that the servers can tell which
// client sent them.
func tagged(tag string) *http.Client {
	return noRedirects(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Client", tag)
		return http.DefaultTransport.RoundTrip(r)
	}))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newClient(t *testing.T, nns ...string) *Client {
	t.Helper()
	c, err := New(Options{NameNodes: nns, Client: tagged("namenode"), DataNodeClient: tagged("datanode"), ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenFollowsTheRedirect(t *testing.T) {
	var nnHits, dnHits atomic.Int32
	dn := fakeDataNode(t, &dnHits)
	nn := fakeNameNode(t, dn.URL, &nnHits, 0, "")
	c := newClient(t, nn.URL)
	tests := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{name: "whole file", offset: 0, length: -1, want: content},
		{name: "from an offset to the end", offset: 9000, length: -1, want: content[9000:]},
		{name: "a range", offset: 100, length: 50, want: content[100:150]},
		{name: "a range past the end", offset: 9990, length: 50, want: content[9990:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.Open(t.Context(), "/data/file", tc.offset, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("read %d bytes (%v), want %d", len(got), err, len(tc.want))
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
	if nnHits.Load() != int32(len(tests)) || dnHits.Load() != int32(len(tests)) {
		t.Errorf("NameNode hits %d, DataNode hits %d, want %d each", nnHits.Load(), dnHits.Load(), len(tests))
	}
}

func TestReadAt(t *testing.T) {
	var nnHits, dnHits atomic.Int32
	dn := fakeDataNode(t, &dnHits)
	c := newClient(t, fakeNameNode(t, dn.URL, &nnHits, 0, "").URL)
	tests := []struct {
		name    string
		off     int64
		size    int
		wantN   int
		wantErr error
	}{
		{name: "inside", off: 10, size: 100, wantN: 100},
		{name: "up to the end", off: 9900, size: 100, wantN: 100},
		{name: "across the end", off: 9950, size: 100, wantN: 50, wantErr: io.EOF},
		{name: "empty", off: 5, size: 0, wantN: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.size)
			n, err := c.ReadAt(t.Context(), "/data/file", p, tc.off)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if !bytes.Equal(p[:n], content[tc.off:tc.off+int64(n)]) {
				t.Errorf("ReadAt read other bytes")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	var hits atomic.Int32
	dn := fakeDataNode(t, &hits)
	tests := []struct {
		name   string
		status int
		body   string
		path   string
		is     error
		isNot  error
		want   string
	}{
		{name: "missing file at the DataNode", path: "/data/other", is: fs.ErrNotExist, want: "FileNotFoundException"},
		{name: "missing file at the NameNode", status: 404, path: "/data/file", is: fs.ErrNotExist,
			body: `{"RemoteException":{"exception":"FileNotFoundException","javaClassName":"java.io.FileNotFoundException","message":"File does not exist: /data/file"}}`},
		{name: "permission", status: 403, path: "/data/file", is: fs.ErrPermission,
			body: `{"RemoteException":{"exception":"AccessControlException","javaClassName":"org.apache.hadoop.security.AccessControlException","message":"Permission denied"}}`},
		{name: "not authenticated", status: 401, path: "/data/file", isNot: fs.ErrPermission, body: `<html>401</html>`, want: "HTTP 401"},
		{name: "server error", status: 500, path: "/data/file", isNot: fs.ErrNotExist, want: "IOException",
			body: `{"RemoteException":{"exception":"IOException","message":"boom"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var nnHits atomic.Int32
			c := newClient(t, fakeNameNode(t, dn.URL, &nnHits, tc.status, tc.body).URL)
			_, err := c.Open(t.Context(), tc.path, 0, -1)
			var re *RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("Open() = %v, want a *RemoteError", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Open() = %v, want it to be %v", err, tc.is)
			}
			if tc.isNot != nil && errors.Is(err, tc.isNot) {
				t.Errorf("Open() = %v, want it not to be %v", err, tc.isNot)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open() = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "tok") {
				t.Errorf("Open() = %v leaks the delegation token", err)
			}
		})
	}
}

func TestFailoverToTheActiveNameNode(t *testing.T) {
	var standbyHits, activeHits, dnHits atomic.Int32
	dn := fakeDataNode(t, &dnHits)
	standby := fakeNameNode(t, dn.URL, &standbyHits, http.StatusForbidden,
		`{"RemoteException":{"exception":"StandbyException","javaClassName":"org.apache.hadoop.ipc.StandbyException","message":"Operation category READ is not supported in state standby"}}`)
	active := fakeNameNode(t, dn.URL, &activeHits, 0, "")
	c := newClient(t, standby.URL, active.URL)
	for range 3 {
		n, err := c.ReadAt(t.Context(), "/data/file", make([]byte, 10), 0)
		if n != 10 || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
	}
	if standbyHits.Load() != 1 || activeHits.Load() != 3 {
		t.Errorf("standby asked %d times, active %d times; want 1 and 3 (the active one remembered)", standbyHits.Load(), activeHits.Load())
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c = newClient(t, down.URL, active.URL)
	if n, err := c.ReadAt(t.Context(), "/data/file", make([]byte, 10), 0); n != 10 || err != nil {
		t.Errorf("with the first NameNode down: ReadAt = %d, %v", n, err)
	}
}

func TestRedirectLoop(t *testing.T) {
	var hits atomic.Int32
	nn := fakeNameNode(t, "", &hits, 0, "") // redirects to itself, through the DataNode client
	c, err := New(Options{NameNodes: []string{nn.URL}, Client: tagged("namenode"), DataNodeClient: tagged("namenode")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Open(t.Context(), "/data/file", 0, -1)
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("Open() = %v, want too many redirects", err)
	}
	if hits.Load() != maxHops {
		t.Errorf("%d requests, want %d", hits.Load(), maxHops)
	}
}

func TestReadTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	dn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		select { // then stall
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer dn.Close()
	var hits atomic.Int32
	nn := fakeNameNode(t, dn.URL, &hits, 0, "")
	c, err := New(Options{NameNodes: []string{nn.URL}, Client: tagged("namenode"), ReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Open(t.Context(), "/data/file", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	began := time.Now()
	b, err := io.ReadAll(r)
	if string(b) != "first" || !errors.Is(err, ErrReadTimeout) {
		t.Errorf("ReadAll = %q, %v; want the first bytes and ErrReadTimeout", b, err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the stalled read took %v", took)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, nns := range [][]string{nil, {"nn:9870"}, {"ftp://nn:9870"}} {
		if _, err := New(Options{NameNodes: nns}); err == nil {
			t.Errorf("New(%q) succeeded", nns)
		}
	}
	c, err := New(Options{NameNodes: []string{"http://nn:9870"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(t.Context(), "relative", 0, -1); err == nil {
		t.Errorf("Open(relative) succeeded")
	}
}
