package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/jarfile"
)

// fileStore is the HDFS access launches need; *hdfs.Store implements it.
type fileStore interface {
	Stat(ctx context.Context, name string) (hdfs.FileInfo, error)
	MkdirAll(ctx context.Context, name string, perm fs.FileMode) error
	Create(ctx context.Context, name string) (io.WriteCloser, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	Rename(ctx context.Context, oldName, newName string) error
	Chmod(ctx context.Context, name string, perm fs.FileMode) error
	RemoveAll(ctx context.Context, name string) error
	Inspect(ctx context.Context, name string) (hdfs.FileInfo, jarfile.Info, error)
	URI(name string) string
	FSURI() string
}

// flinkFS adapts a fileStore to flink.FileSystem.
type flinkFS struct{ fileStore }

// Stat reports the size and the modification time in milliseconds, as YARN compares it.
func (f flinkFS) Stat(ctx context.Context, name string) (flink.FileStatus, error) {
	fi, err := f.fileStore.Stat(ctx, name)
	if err != nil {
		return flink.FileStatus{}, err
	}
	return flink.FileStatus{Size: fi.Size, ModTime: fi.ModTime.UnixMilli(), Mode: fi.Mode}, nil
}

// ErrUnknownFlinkVersion is returned for a Flink version no configured distribution matches.
var ErrUnknownFlinkVersion = errors.New("unknown flink version")

// catalogue holds the configured Flink distributions and uploads each to HDFS once, on first use.
type catalogue struct {
	fs      flinkFS
	libRoot string
	dists   []*flink.Dist // immutable after construction
	def     *flink.Dist

	// uploads has one entry per distribution; a launch waits on it while another uploads.
	uploads map[*flink.Dist]*distUpload
}

// distUpload serialises the upload of one distribution; token is a one-slot semaphore so that a waiting
// launch still honours its context.
type distUpload struct {
	token chan struct{}
	libs  *flink.ProvidedLibs // set once uploaded; read and written holding token
}

// newCatalogue opens the distributions in homes. defaultVersion selects the default (a version prefix such
// as "1.20"); empty means the first.
func newCatalogue(files fileStore, libRoot string, homes []string, defaultVersion string) (*catalogue, error) {
	c := &catalogue{fs: flinkFS{files}, libRoot: libRoot, uploads: map[*flink.Dist]*distUpload{}}
	for _, h := range homes {
		d, err := flink.OpenDist(h)
		if err != nil {
			return nil, fmt.Errorf("flink distribution %s: %w", h, err)
		}
		c.dists = append(c.dists, d)
		c.uploads[d] = &distUpload{token: make(chan struct{}, 1)}
	}
	if len(c.dists) == 0 {
		return c, nil
	}
	c.def = c.dists[0]
	if defaultVersion != "" {
		d, err := c.resolve(defaultVersion)
		if err != nil {
			return nil, fmt.Errorf("flink.defaultVersion: %w", err)
		}
		c.def = d
	}
	return c, nil
}

// versions lists the configured distributions' versions.
func (c *catalogue) versions() []string {
	out := make([]string, len(c.dists))
	for i, d := range c.dists {
		out[i] = d.Version.Raw
	}
	return out
}

// resolve finds the distribution for a requested version: "" gives the default; otherwise the version must
// equal a distribution's or be a dot-separated prefix of it ("1.20" matches 1.20.3, "2" and "2.x" match
// 2.2.1). When several match, the newest wins.
func (c *catalogue) resolve(version string) (*flink.Dist, error) {
	if version == "" {
		if c.def == nil {
			return nil, fmt.Errorf("%w: no flink distribution is configured (flink.homes)", ErrUnknownFlinkVersion)
		}
		return c.def, nil
	}
	want := strings.TrimSuffix(strings.TrimSuffix(version, ".x"), ".")
	var best *flink.Dist
	for _, d := range c.dists {
		if d.Version.Raw != want && !strings.HasPrefix(d.Version.Raw, want+".") {
			continue
		}
		if best == nil || newer(d.Version, best.Version) {
			best = d
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %q (configured: %s)", ErrUnknownFlinkVersion, version, strings.Join(c.versions(), ", "))
	}
	return best, nil
}

func newer(a, b flink.Version) bool {
	if a.Major != b.Major {
		return a.Major > b.Major
	}
	if a.Minor != b.Minor {
		return a.Minor > b.Minor
	}
	return a.Patch > b.Patch
}

// libs returns the distribution's uploaded files, uploading them the first time. Concurrent callers wait
// for one upload; a failed upload is retried by the next caller.
func (c *catalogue) libs(ctx context.Context, d *flink.Dist) (*flink.ProvidedLibs, error) {
	u := c.uploads[d]
	select {
	case u.token <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the upload of flink %s: %w", d.Version, ctx.Err())
	}
	defer func() { <-u.token }()
	if u.libs != nil {
		return u.libs, nil
	}
	libs, err := flink.UploadDist(ctx, c.fs, d, flink.UploadOptions{FSURI: c.fs.FSURI(), Root: c.libRoot})
	if err != nil {
		return nil, err
	}
	u.libs = libs
	return libs, nil
}
