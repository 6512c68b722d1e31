package webhdfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
)

// This file is the Client acting on files for another user: a Hadoop proxy user names the user it acts for
// with doas=<user> on every NameNode call (the NameNode checks hadoop.proxyuser.<caller>.* and answers
// 403 otherwise), so what it creates belongs to that user. The DataNode a CREATE redirects to needs no
// doas: the NameNode's redirect carries a delegation token of that user. These calls are small (metadata,
// configuration files written in one request); file content is sent whole.

// FileStatus is a path's status (op=GETFILESTATUS).
type FileStatus struct {
	// Length is the file's length in bytes.
	Length int64 `json:"length"`
	// ModificationTime is in milliseconds since the epoch, as YARN compares it.
	ModificationTime int64 `json:"modificationTime"`
	// Permission is the octal permission, such as "700" or "1777".
	Permission string `json:"permission"`
	// Owner is the user the path belongs to.
	Owner string `json:"owner"`
	// Type is FILE, DIRECTORY or SYMLINK.
	Type string `json:"type"`
}

// Mode returns the permission bits, fs.ModeDir for directories and fs.ModeSticky for the sticky bit.
func (s FileStatus) Mode() fs.FileMode {
	p, _ := strconv.ParseUint(s.Permission, 8, 32)
	m := fs.FileMode(p) & fs.ModePerm
	if p&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	if s.Type == "DIRECTORY" {
		m |= fs.ModeDir
	}
	return m
}

// octal is perm as WebHDFS's permission parameter: the permission bits and the sticky bit.
func octal(perm fs.FileMode) string {
	p := uint32(perm & fs.ModePerm)
	if perm&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return strconv.FormatUint(uint64(p), 8)
}

// Stat returns the status of name as user doAs ("": the client's own); the error matches fs.ErrNotExist
// when it does not exist.
func (c *Client) Stat(ctx context.Context, name, doAs string) (FileStatus, error) {
	var out struct {
		FileStatus FileStatus `json:"FileStatus"`
	}
	if err := c.nameNodeCall(ctx, http.MethodGet, name, "GETFILESTATUS", nil, doAs, &out); err != nil {
		return FileStatus{}, fmt.Errorf("webhdfs stat %s: %w", name, err)
	}
	return out.FileStatus, nil
}

// MkdirAll creates name and its missing parents as user doAs and gives name perm.
func (c *Client) MkdirAll(ctx context.Context, name string, perm fs.FileMode, doAs string) error {
	var out struct {
		Boolean bool `json:"boolean"`
	}
	if err := c.nameNodeCall(ctx, http.MethodPut, name, "MKDIRS", url.Values{"permission": {octal(perm)}}, doAs, &out); err != nil {
		return fmt.Errorf("webhdfs mkdirs %s: %w", name, err)
	}
	if !out.Boolean {
		return fmt.Errorf("webhdfs mkdirs %s: the NameNode answered false", name)
	}
	return c.Chmod(ctx, name, perm, doAs)
}

// Chmod sets the permission of name as user doAs.
func (c *Client) Chmod(ctx context.Context, name string, perm fs.FileMode, doAs string) error {
	if err := c.nameNodeCall(ctx, http.MethodPut, name, "SETPERMISSION", url.Values{"permission": {octal(perm)}}, doAs, nil); err != nil {
		return fmt.Errorf("webhdfs chmod %s: %w", name, err)
	}
	return nil
}

// RemoveAll removes name and everything below it as user doAs; a missing name is not an error.
func (c *Client) RemoveAll(ctx context.Context, name, doAs string) error {
	if path.Clean(name) == "/" {
		return fmt.Errorf("webhdfs delete %q: refusing to remove the root", name)
	}
	err := c.nameNodeCall(ctx, http.MethodDelete, name, "DELETE", url.Values{"recursive": {"true"}}, doAs, nil)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("webhdfs delete %s: %w", name, err)
	}
	return nil
}

// WriteFile creates or replaces name with data as user doAs (mode 0644 after the NameNode's umask): the
// NameNode redirects the CREATE to a DataNode, which takes the content.
func (c *Client) WriteFile(ctx context.Context, name string, data []byte, doAs string) error {
	q := url.Values{"overwrite": {"true"}}
	loc, err := c.createLocation(ctx, name, q, doAs)
	if err != nil {
		return fmt.Errorf("webhdfs create %s: %w", name, err)
	}
	resp, err := c.send(ctx, c.dnClient, http.MethodPut, loc, data)
	if err != nil {
		return fmt.Errorf("webhdfs create %s: %w", name, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhdfs create %s: %w", name, remoteError(resp))
	}
	return nil
}

// createLocation asks a NameNode where to send a new file's content.
func (c *Client) createLocation(ctx context.Context, name string, q url.Values, doAs string) (*url.URL, error) {
	var loc *url.URL
	err := c.eachNameNode(ctx, func(nn *url.URL) error {
		u := c.nameNodeURL(nn, name, "CREATE", q, doAs)
		resp, err := c.send(ctx, c.nnClient, http.MethodPut, u, nil)
		if err != nil {
			return err
		}
		defer drain(resp.Body)
		if !isRedirect(resp.StatusCode) {
			return remoteError(resp)
		}
		next, err := u.Parse(resp.Header.Get("Location"))
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return fmt.Errorf("redirect to %q: not an http(s) URL", resp.Header.Get("Location"))
		}
		loc = next
		return nil
	})
	return loc, err
}

// nameNodeCall sends one NameNode operation and decodes its JSON answer into out (nil: none expected).
func (c *Client) nameNodeCall(ctx context.Context, method, name, op string, q url.Values, doAs string, out any) error {
	if !path.IsAbs(name) {
		return fmt.Errorf("%q is not an absolute path", name)
	}
	return c.eachNameNode(ctx, func(nn *url.URL) error {
		resp, err := c.send(ctx, c.nnClient, method, c.nameNodeURL(nn, name, op, q, doAs), nil)
		if err != nil {
			return err
		}
		defer drain(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return remoteError(resp)
		}
		if out == nil {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode the %s answer: %w", op, err)
		}
		return nil
	})
}

// nameNodeURL is the URL of op on name at NameNode nn, as user doAs.
func (c *Client) nameNodeURL(nn *url.URL, name, op string, q url.Values, doAs string) *url.URL {
	v := url.Values{"op": {op}}
	for k, vs := range q {
		v[k] = vs
	}
	if c.user != "" {
		v.Set("user.name", c.user)
	}
	if doAs != "" {
		v.Set("doas", doAs)
	}
	u := nn.JoinPath("webhdfs/v1", name)
	u.RawQuery = v.Encode()
	return u
}

// eachNameNode runs call against each NameNode in turn, starting with the one that answered last, until one
// answers something that is not about being a standby or unreachable.
func (c *Client) eachNameNode(ctx context.Context, call func(nn *url.URL) error) error {
	first := int(c.active.Load())
	var errs []error
	for i := range c.nameNodes {
		idx := (first + i) % len(c.nameNodes)
		err := call(c.nameNodes[idx])
		var re *RemoteError
		if err == nil || ctx.Err() != nil || errors.As(err, &re) && !re.standby() {
			if err == nil || re != nil {
				c.active.Store(int32(idx))
			}
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.nameNodes[idx].Host, err))
	}
	return errors.Join(errs...)
}

// send sends one request with body (nil: none), bounded by the read timeout.
func (c *Client) send(ctx context.Context, client *http.Client, method string, u *url.URL, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		cancel()
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s %s: %w", method, redacted(u), err)
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases its request's context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
