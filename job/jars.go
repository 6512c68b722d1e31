package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
)

// jarStore is what the jar service needs from the staging store; *hdfs.Store implements it.
type jarStore interface {
	Put(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error)
	Get(ctx context.Context, id string) (hdfs.Jar, error)
	List(ctx context.Context) ([]hdfs.Jar, error)
	Delete(ctx context.Context, id string) error
}

// maxJarNameLen bounds the recorded file name of a jar.
const maxJarNameLen = 255

// JarService is the service layer for job jars: upload policy (size limit, file-name sanitising),
// outcome metrics and logging on top of the staging store. Handlers call it; it never sees HTTP.
type JarService struct {
	store   jarStore
	maxSize int64
	logger  *slog.Logger
	metrics *Metrics
	owners  *JarOwnership // nil: jars are shared
}

// NewJarService returns a JarService over store (usually an *hdfs.Store) accepting jars up to maxSize
// bytes.
func NewJarService(store jarStore, maxSize int64, logger *slog.Logger, metrics *Metrics) *JarService {
	return &JarService{store: store, maxSize: maxSize, logger: logger, metrics: metrics}
}

// UploadRequest is one jar upload.
type UploadRequest struct {
	// Body streams the jar.
	Body io.Reader
	// Name is the file name the client gave, unsanitised; it may be empty.
	Name string
	// DeclaredSize is a lower bound of the jar size known before reading (from Content-Length), or -1.
	DeclaredSize int64
}

// Upload stages a jar. Content larger than the limit is refused before reading when DeclaredSize says
// so. The file name is sanitised (SanitizeName) and only recorded.
func (s *JarService) Upload(ctx context.Context, req UploadRequest) (hdfs.PutResult, error) {
	if req.DeclaredSize > s.maxSize {
		s.metrics.uploads.WithLabelValues(outcomeTooLarge).Inc()
		return hdfs.PutResult{}, fmt.Errorf("upload jar: %w: %d bytes declared", hdfs.ErrTooLarge, req.DeclaredSize)
	}
	res, err := s.store.Put(ctx, req.Body, SanitizeName(req.Name))
	s.metrics.uploads.WithLabelValues(uploadOutcome(res, err)).Inc()
	if err != nil {
		return hdfs.PutResult{}, fmt.Errorf("upload jar: %w", err)
	}
	if res.Created {
		s.metrics.stagedBytes.Add(float64(res.Jar.Size))
	}
	if s.owners != nil {
		if err := s.owners.Registry.AddJarOwner(ctx, res.Jar.ID, s.owners.caller(ctx).User); err != nil {
			return hdfs.PutResult{}, fmt.Errorf("upload jar: record its owner: %w", err)
		}
	}
	s.logger.InfoContext(ctx, "jar uploaded", "requestId", RequestID(ctx), "id", res.Jar.ID,
		"size", res.Jar.Size, "created", res.Created, "mainClass", res.Jar.MainClass)
	res.Jar = withDefaultName(res.Jar)
	return res, nil
}

func uploadOutcome(res hdfs.PutResult, err error) string {
	switch {
	case err == nil && res.Created:
		return outcomeCreated
	case err == nil:
		return outcomeExisted
	case errors.Is(err, hdfs.ErrInvalidJar):
		return outcomeInvalid
	case errors.Is(err, hdfs.ErrTooLarge):
		return outcomeTooLarge
	default:
		return outcomeFailed
	}
}

// Get returns one staged jar.
func (s *JarService) Get(ctx context.Context, id string) (hdfs.Jar, error) {
	if err := s.checkUse(ctx, id); err != nil {
		return hdfs.Jar{}, fmt.Errorf("get jar: %w", err)
	}
	jar, err := s.store.Get(ctx, id)
	if err != nil {
		return hdfs.Jar{}, fmt.Errorf("get jar: %w", err)
	}
	return withDefaultName(jar), nil
}

// List returns the staged jars the caller may see, newest first.
func (s *JarService) List(ctx context.Context) ([]hdfs.Jar, error) {
	jars, err := s.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list jars: %w", err)
	}
	if s.owners != nil {
		if jars, err = s.visibleJars(ctx, jars); err != nil {
			return nil, fmt.Errorf("list jars: %w", err)
		}
	}
	for i := range jars {
		jars[i] = withDefaultName(jars[i])
	}
	return jars, nil
}

// Delete removes the caller's jar: their ownership of it, and the jar itself with its last owner (not while
// a job that has not ended runs it: ErrJarInUse).
func (s *JarService) Delete(ctx context.Context, id string) error {
	removed, err := s.remove(ctx, id)
	if err != nil {
		return fmt.Errorf("delete jar: %w", err)
	}
	s.logger.InfoContext(ctx, "jar deleted", "requestId", RequestID(ctx), "id", id, "removedFromStorage", removed)
	return nil
}

// visibleJars keeps the jars the caller owns (all for an administrator; unowned ones for the gateway's user).
func (s *JarService) visibleJars(ctx context.Context, jars []hdfs.Jar) ([]hdfs.Jar, error) {
	p := s.owners.caller(ctx)
	if s.owners.admin(p) {
		return jars, nil
	}
	mine, err := s.owners.Registry.JarsOwned(ctx, p.User)
	if err != nil {
		return nil, err
	}
	var owned map[string]bool
	if p.User == s.owners.User {
		if owned, err = s.owners.Registry.JarsOwned(ctx, ""); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(jars, func(j hdfs.Jar) bool { return !mine[j.ID] && (owned == nil || owned[j.ID]) }), nil
}

// withDefaultName names a jar uploaded without a file name after its id.
func withDefaultName(j hdfs.Jar) hdfs.Jar {
	if j.Name == "" {
		j.Name = j.ID + ".jar"
	}
	return j
}

// SanitizeName turns a client-supplied file name into one that is safe to record and show: only the last
// path element (after / or \), without control or invisible formatting characters, without leading dots
// or surrounding spaces, valid UTF-8, at most 255 bytes. It may return "". Names never influence storage
// paths in any case; this keeps the recorded metadata clean.
func SanitizeName(raw string) string {
	s := raw
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimLeft(strings.TrimSpace(s), ".")
	if len(s) > maxJarNameLen {
		s = strings.ToValidUTF8(s[:maxJarNameLen], "")
	}
	return strings.TrimSpace(s)
}

// ValidJarID reports whether id has the form of a staged jar's id (64 lower-case hex digits).
func ValidJarID(id string) bool { return hdfs.ValidID(id) }

// JarToAPI renders a staged jar as the API's jar object.
func JarToAPI(j hdfs.Jar) api.Jar {
	out := api.Jar{ID: j.ID, Name: j.Name, Size: j.Size, SHA256: j.ID, Path: j.URI, CreatedAt: j.ModTime.UTC()}
	if j.MainClass != "" {
		mc := j.MainClass
		out.MainClass = &mc
	}
	return out
}
