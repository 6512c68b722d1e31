package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/yarngate/yarngate/api"
)

// UploadJar stages a jar (POST /v1/jars, raw). name is the jar's file name (metadata only); size is the
// length of r, or -1 when unknown. When r is an io.Seeker (an *os.File), the upload can be resent after a
// Kerberos challenge. created is false when the same content was staged already.
func (c *Client) UploadJar(ctx context.Context, name string, r io.Reader, size int64) (jar api.Jar, created bool, err error) {
	req := &request{method: http.MethodPost, path: "/v1/jars", query: url.Values{}, header: http.Header{}, body: r, size: size}
	if name != "" {
		req.query.Set("name", name)
	}
	req.header.Set("Content-Type", "application/java-archive")
	if s, ok := r.(io.Seeker); ok {
		start, err := s.Seek(0, io.SeekCurrent)
		if err == nil {
			req.getBody = func() (io.ReadCloser, error) {
				if _, err := s.Seek(start, io.SeekStart); err != nil {
					return nil, err
				}
				return io.NopCloser(r), nil
			}
		}
	}
	status, err := c.call(ctx, req, &jar)
	return jar, status == http.StatusCreated, err
}

// ListJars lists the caller's staged jars, newest first (GET /v1/jars).
func (c *Client) ListJars(ctx context.Context) ([]api.Jar, error) {
	var l api.JarList
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jars"}, &l)
	return l.Jars, err
}

// GetJar returns one staged jar (GET /v1/jars/{id}).
func (c *Client) GetJar(ctx context.Context, id string) (api.Jar, error) {
	var j api.Jar
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jars/" + escape(id)}, &j)
	return j, err
}

// DeleteJar removes the caller's ownership of a jar (DELETE /v1/jars/{id}).
func (c *Client) DeleteJar(ctx context.Context, id string) error {
	_, err := c.call(ctx, &request{method: http.MethodDelete, path: "/v1/jars/" + escape(id)}, nil)
	return err
}
