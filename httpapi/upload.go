package httpapi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// jarField is the multipart form field that carries the jar.
const jarField = "jar"

// multipartSlack is what a multipart body may carry beyond the jar itself: boundaries, part headers and
// small extra fields.
const multipartSlack = 1 << 20

// rawJarTypes are the media types accepted for a raw jar body.
var rawJarTypes = map[string]bool{
	"application/java-archive":   true,
	"application/x-java-archive": true,
	"application/octet-stream":   true,
}

// decodeUpload turns the request into an UploadRequest without reading the jar: for a raw body it is the
// body itself, for multipart/form-data the "jar" part, read with multipart.Reader so that nothing is
// buffered in memory or spooled to disk. The body is capped with http.MaxBytesReader and each read is
// bounded by idle.
func decodeUpload(c *gin.Context, maxSize int64, idle time.Duration) (job.UploadRequest, error) {
	r := c.Request
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return job.UploadRequest{}, newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
			"Content-Type must be application/java-archive, application/octet-stream or multipart/form-data", err)
	}
	name := c.Query("name")
	rc := http.NewResponseController(c.Writer)
	switch {
	case rawJarTypes[mediaType]:
		body := &idleReader{r: http.MaxBytesReader(c.Writer, r.Body, maxSize+1), rc: rc, idle: idle}
		return job.UploadRequest{Body: body, Name: name, DeclaredSize: r.ContentLength}, nil

	case mediaType == "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return job.UploadRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "multipart/form-data without a boundary", nil)
		}
		body := &idleReader{r: http.MaxBytesReader(c.Writer, r.Body, maxSize+multipartSlack), rc: rc, idle: idle}
		mr := multipart.NewReader(body, boundary)
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return job.UploadRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "the multipart body has no file field \"jar\"", nil)
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return job.UploadRequest{}, err
			}
			if err != nil {
				return job.UploadRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "malformed multipart body", err)
			}
			if part.FormName() != jarField {
				continue // NextPart skips the rest of this part
			}
			if name == "" {
				name = part.FileName()
			}
			declared := int64(-1)
			if r.ContentLength > multipartSlack {
				declared = r.ContentLength - multipartSlack
			}
			return job.UploadRequest{Body: &bodyReader{r: part}, Name: name, DeclaredSize: declared}, nil
		}

	default:
		return job.UploadRequest{}, newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
			"Content-Type must be application/java-archive, application/octet-stream or multipart/form-data", nil)
	}
}

// idleReader bounds each read of the request body by idle, so a stalled client cannot hold an HDFS client
// forever, and marks read failures as bodyErrors (the client's doing). A size-limit error keeps its type.
//
// The deadline is left in place after the last read. When the body was read to its end, net/http clears
// it itself before it starts watching the connection for the client going away. When it was not (a
// failure, or the closing boundary after a multipart jar part), it bounds the server's own attempt to
// drain the rest of the body, so a client that stops sending cannot hold the connection; the next request
// on a kept-alive connection gets fresh deadlines from the server's ReadHeaderTimeout.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (x *idleReader) Read(p []byte) (int, error) {
	if x.idle > 0 {
		// Not every ResponseWriter supports deadlines (httptest's recorder does not); then there is none.
		_ = x.rc.SetReadDeadline(time.Now().Add(x.idle))
	}
	n, err := x.r.Read(p)
	return n, markBodyError(err)
}

// bodyReader marks read failures of a multipart part as bodyErrors.
type bodyReader struct{ r io.Reader }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	return n, markBodyError(err)
}

func markBodyError(err error) error {
	var tooLarge *http.MaxBytesError
	var already *bodyError
	if err == nil || errors.Is(err, io.EOF) || errors.As(err, &tooLarge) || errors.As(err, &already) {
		return err
	}
	return &bodyError{err: err}
}
