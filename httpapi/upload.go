package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/throttle"
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
// buffered in memory or spooled to disk. The body is capped with http.MaxBytesReader, each read is
// bounded by idle, and from the jar's first byte the whole body keeps pace (nil: no pace).
func decodeUpload(c *gin.Context, maxSize int64, idle time.Duration, pace *throttle.Pace) (job.UploadRequest, error) {
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
		body := &idleReader{r: http.MaxBytesReader(c.Writer, r.Body, maxSize+1), rc: rc, idle: idle, pace: pace}
		return job.UploadRequest{Body: startPace(body, pace), Name: name, DeclaredSize: r.ContentLength}, nil

	case mediaType == "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return job.UploadRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "multipart/form-data without a boundary", nil)
		}
		body := &idleReader{r: http.MaxBytesReader(c.Writer, r.Body, maxSize+multipartSlack), rc: rc, idle: idle, pace: pace}
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
			return job.UploadRequest{Body: startPace(&bodyReader{r: part}, pace), Name: name, DeclaredSize: declared}, nil
		}

	default:
		return job.UploadRequest{}, newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
			"Content-Type must be application/java-archive, application/octet-stream or multipart/form-data", nil)
	}
}

// idleReader bounds each read of the request body by idle, so a stalled client cannot hold an HDFS client
// forever, and marks read failures as bodyErrors (the client's doing). A size-limit error keeps its type.
// With a pace that has started, each read must also end before the pace's deadline (the time the body
// falls below the minimum rate, or its overall deadline): a read cut off by it, or any read after it,
// fails with the pace's error (throttle.ErrTooSlow, ErrTooLong), so the upload ends at once.
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
	pace *throttle.Pace // nil: none
}

func (x *idleReader) Read(p []byte) (int, error) {
	now := time.Now()
	var deadline time.Time
	if x.idle > 0 {
		deadline = now.Add(x.idle)
	}
	if x.pace != nil && x.pace.Started() {
		if err := x.pace.Check(now); err != nil {
			return 0, &bodyError{err: err}
		}
		if at, _, ok := x.pace.Deadline(); ok && (deadline.IsZero() || at.Before(deadline)) {
			deadline = at
		}
	}
	if !deadline.IsZero() {
		// Not every ResponseWriter supports deadlines (httptest's recorder does not); then there is none.
		_ = x.rc.SetReadDeadline(deadline)
	}
	n, err := x.r.Read(p)
	if x.pace != nil && x.pace.Started() {
		now = time.Now()
		x.pace.Add(now, n)
		if err != nil && !errors.Is(err, io.EOF) {
			if perr := x.pace.Check(now); perr != nil {
				return n, &bodyError{err: fmt.Errorf("%w: %w", perr, err)}
			}
		}
	}
	return n, markBodyError(err)
}

// startPace returns r, starting pace's clock at the first read: the jar's first byte, after the upload got
// its slot (nil pace: r itself).
func startPace(r io.Reader, pace *throttle.Pace) io.Reader {
	if pace == nil {
		return r
	}
	return &pacedReader{r: r, pace: pace}
}

// pacedReader starts its pace at the first Read.
type pacedReader struct {
	r    io.Reader
	pace *throttle.Pace
}

func (x *pacedReader) Read(p []byte) (int, error) {
	x.pace.Start(time.Now())
	return x.r.Read(p)
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
