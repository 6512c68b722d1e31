package launch

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/yarnclient"
)

// This file is what launches do for the user a cluster runs as when that is not the gateway's own user
// (impersonation). The application is created and submitted as the user (yarnclient.AsUser: user.name, or
// doAs behind SPNEGO); its launch files, <stagingRoot>/.flink/<appId>, are written as the user (hdfs.AsUser),
// so that the user's containers can localize them with the user's token and Flink's AM can remove them;
// what the cluster writes itself (HA data, job archives) goes below shared directories every user may
// create entries in. These are created by the gateway like /tmp, world-writable with the sticky bit: a user
// can add entries and remove only their own; the gateway, owning the directory, may remove any entry, but
// not the content of another user's directory, so the reconciler removes them as their owner
// (hdfs.Store.RemoveAll).

// sharedMode is the mode of the shared directories: world-writable with the sticky bit, as /tmp.
const sharedMode = fs.ModeSticky | 0o777

// asUser returns ctx under which the cluster clients act as user.
func (l *Launcher) asUser(ctx context.Context, user string) context.Context {
	if user == "" || user == l.opts.User {
		return ctx
	}
	return hdfs.AsUser(yarnclient.AsUser(ctx, user), user)
}

// sharedDirs makes the shared directories once per process (again after a failure).
type sharedDirs struct {
	mu   sync.Mutex
	done bool
}

// prepare creates the shared directories of launches for other users, or gives an existing one the
// gateway owns the shared mode. One the gateway does not own is left as it is (an administrator's choice).
func (d *sharedDirs) prepare(ctx context.Context, l *Launcher) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return nil
	}
	for _, dir := range l.SharedDirs() {
		fi, err := l.opts.Files.Stat(ctx, dir)
		switch {
		case err == nil && fi.Mode&sharedMode == sharedMode:
			continue
		case err == nil && fi.Owner != "" && fi.Owner != or(l.opts.RMUser, l.opts.User):
			l.opts.Logger.Warn("a shared launch directory is not world-writable with the sticky bit and not the gateway's; launches for other users may fail",
				"path", dir, "owner", fi.Owner, "mode", fi.Mode.String())
			continue
		case err == nil:
			err = l.opts.Files.Chmod(ctx, dir, sharedMode)
		default:
			err = l.opts.Files.MkdirAll(ctx, dir, sharedMode)
		}
		if err != nil {
			return fmt.Errorf("prepare shared launch directory %s: %w", dir, err)
		}
	}
	d.done = true
	return nil
}

// SharedDirs are the directories launches for other users write below: launch files, job archives and,
// when it is in the gateway's file system, the HA storage directory.
func (l *Launcher) SharedDirs() []string {
	dirs := []string{path.Join(l.opts.StagingRoot, ".flink"), l.archiveDir(), l.savepointDir()}
	if ha := l.opts.HA; ha != nil {
		if p, ok := strings.CutPrefix(ha.StorageDir, l.opts.Files.FSURI()); ok && path.IsAbs(p) {
			dirs = append(dirs, path.Clean(p))
		} else if path.IsAbs(ha.StorageDir) {
			dirs = append(dirs, path.Clean(ha.StorageDir))
		}
	}
	return dirs
}
