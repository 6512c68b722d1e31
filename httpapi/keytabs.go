package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// keytabAPI is what the keytab handlers need; *job.KeytabService implements it.
type keytabAPI interface {
	Upload(ctx context.Context, body io.Reader, principal string) (api.Keytab, error)
	Get(ctx context.Context, id string) (api.Keytab, error)
	List(ctx context.Context) ([]api.Keytab, error)
	Delete(ctx context.Context, id string) error
}

// Multipart fields of a keytab upload.
const (
	keytabField    = "keytab"
	principalField = "principal"
)

// maxKeytabBody bounds a keytab upload's body: the keytab (at most 64 KiB, the store's limit, which
// checks it exactly) and, for multipart, boundaries, headers and the principal.
const maxKeytabBody = 64<<10 + 16<<10

// decodeKeytabUpload reads a keytab upload: a raw application/octet-stream body with the principal in the
// query (?principal=), or multipart/form-data with a file field "keytab" and a field "principal". The body
// is small and read whole, within maxKeytabBody.
func decodeKeytabUpload(c *gin.Context) ([]byte, string, error) {
	data, principal, err := readKeytabUpload(c)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = fmt.Errorf("%w: %w", job.ErrKeytabTooLarge, err)
	}
	return data, principal, err
}

func readKeytabUpload(c *gin.Context) ([]byte, string, error) {
	r := c.Request
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	unsupported := newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
		"Content-Type must be application/octet-stream or multipart/form-data", err)
	if err != nil {
		return nil, "", unsupported
	}
	body := http.MaxBytesReader(c.Writer, r.Body, maxKeytabBody)
	switch mediaType {
	case "application/octet-stream":
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, "", markBodyError(err)
		}
		return data, c.Query(principalField), nil
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "multipart/form-data without a boundary", nil)
		}
		mr := multipart.NewReader(body, params["boundary"])
		var data []byte
		principal := c.Query(principalField)
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, "", err
			}
			if err != nil {
				return nil, "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "malformed multipart body", err)
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, part); err != nil {
				return nil, "", markBodyError(err)
			}
			switch part.FormName() {
			case keytabField:
				data = buf.Bytes()
			case principalField:
				principal = strings.TrimSpace(buf.String())
			}
		}
		if data == nil {
			return nil, "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "the multipart body has no file field \"keytab\"", nil)
		}
		return data, principal, nil
	default:
		return nil, "", unsupported
	}
}

// keytabs returns the keytab service, or the error of a gateway that keeps none.
func (s *server) keytabs() (keytabAPI, error) {
	if s.opts.Keytabs == nil {
		return nil, job.ErrKeytabsDisabled
	}
	return s.opts.Keytabs, nil
}

// uploadKeytab handles POST /v1/keytabs.
func (s *server) uploadKeytab(c *gin.Context) error {
	ks, err := s.keytabs()
	if err != nil {
		return err
	}
	data, principal, err := decodeKeytabUpload(c)
	if err != nil {
		return err
	}
	k, err := ks.Upload(c.Request.Context(), bytes.NewReader(data), principal)
	clear(data)
	if err != nil {
		return err
	}
	c.Header("Location", "/v1/keytabs/"+k.ID)
	c.JSON(http.StatusCreated, k)
	return nil
}

// listKeytabs handles GET /v1/keytabs.
func (s *server) listKeytabs(c *gin.Context) error {
	ks, err := s.keytabs()
	if err != nil {
		return err
	}
	list, err := ks.List(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, api.KeytabList{Keytabs: list})
	return nil
}

// keytabID binds and validates the :id path parameter.
func keytabID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !job.ValidKeytabID(id) {
		return "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "a keytab id is 32 lower-case hex digits", nil)
	}
	return id, nil
}

// getKeytab handles GET /v1/keytabs/:id.
func (s *server) getKeytab(c *gin.Context) error {
	ks, err := s.keytabs()
	if err != nil {
		return err
	}
	id, err := keytabID(c)
	if err != nil {
		return err
	}
	k, err := ks.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, k)
	return nil
}

// deleteKeytab handles DELETE /v1/keytabs/:id.
func (s *server) deleteKeytab(c *gin.Context) error {
	ks, err := s.keytabs()
	if err != nil {
		return err
	}
	id, err := keytabID(c)
	if err != nil {
		return err
	}
	if err := ks.Delete(c.Request.Context(), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
