package flink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
)

// webHDFS is a test-only FileSystem over the NameNode's WebHDFS REST API, so that integration tests
// can stage files without depending on the gateway's HDFS package.
type webHDFS struct {
	base string // such as http://localhost:19870
	user string
	hc   *http.Client
}

func newWebHDFS(base, user string) *webHDFS {
	return &webHDFS{base: base, user: user, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (w *webHDFS) url(p, op string, extra url.Values) string {
	q := url.Values{"op": {op}, "user.name": {w.user}}
	for k, v := range extra {
		q[k] = v
	}
	return w.base + "/webhdfs/v1" + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

func (w *webHDFS) do(ctx context.Context, method, target string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", method, target, fs.ErrNotExist)
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s: %d %s", method, target, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (w *webHDFS) Stat(ctx context.Context, name string) (FileStatus, error) {
	var st struct {
		FileStatus struct {
			Length           int64  `json:"length"`
			ModificationTime int64  `json:"modificationTime"`
			Permission       string `json:"permission"`
			Type             string `json:"type"`
		}
	}
	if err := w.do(ctx, http.MethodGet, w.url(name, "GETFILESTATUS", nil), nil, &st); err != nil {
		return FileStatus{}, err
	}
	perm, err := strconv.ParseUint(st.FileStatus.Permission, 8, 32)
	if err != nil {
		return FileStatus{}, err
	}
	mode := fs.FileMode(perm)
	if st.FileStatus.Type == "DIRECTORY" {
		mode |= fs.ModeDir
	}
	return FileStatus{Size: st.FileStatus.Length, ModTime: st.FileStatus.ModificationTime, Mode: mode}, nil
}

func (w *webHDFS) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	return w.do(ctx, http.MethodPut, w.url(name, "MKDIRS", url.Values{"permission": {fmt.Sprintf("%o", perm)}}), nil, nil)
}

type webHDFSWriter struct {
	ctx  context.Context
	w    *webHDFS
	name string
	buf  bytes.Buffer
}

func (x *webHDFSWriter) Write(b []byte) (int, error) { return x.buf.Write(b) }

func (x *webHDFSWriter) Close() error {
	req, err := http.NewRequestWithContext(x.ctx, http.MethodPut, x.w.url(x.name, "CREATE", url.Values{"overwrite": {"true"}}), nil)
	if err != nil {
		return err
	}
	resp, err := x.w.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || loc == "" {
		return fmt.Errorf("create %s: %d without redirect", x.name, resp.StatusCode)
	}
	return x.w.do(x.ctx, http.MethodPut, loc, x.buf.Bytes(), nil)
}

func (w *webHDFS) Create(ctx context.Context, name string) (io.WriteCloser, error) {
	return &webHDFSWriter{ctx: ctx, w: w, name: name}, nil
}

func (w *webHDFS) Rename(ctx context.Context, oldName, newName string) error {
	var res struct{ Boolean bool }
	if err := w.do(ctx, http.MethodPut, w.url(oldName, "RENAME", url.Values{"destination": {newName}}), nil, &res); err != nil {
		return err
	}
	if !res.Boolean {
		return fmt.Errorf("rename %s to %s refused", oldName, newName)
	}
	return nil
}

func (w *webHDFS) Chmod(ctx context.Context, name string, perm fs.FileMode) error {
	return w.do(ctx, http.MethodPut, w.url(name, "SETPERMISSION", url.Values{"permission": {fmt.Sprintf("%o", perm)}}), nil, nil)
}

func (w *webHDFS) RemoveAll(ctx context.Context, name string) error {
	return w.do(ctx, http.MethodDelete, w.url(name, "DELETE", url.Values{"recursive": {"true"}}), nil, nil)
}

// readFile returns a file's content (test helper).
func (w *webHDFS) readFile(ctx context.Context, name string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url(name, "OPEN", nil), nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{} // follows the redirect to the DataNode
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("open %s: %d", name, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}
