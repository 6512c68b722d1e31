package reconcile

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"time"

	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// gcMinAge protects files younger than this from the garbage collection: a launch writes its files before
// its application and record exist.
const gcMinAge = 15 * time.Minute

// collect removes staging files nothing references: launch files and HA data of applications that have
// ended or that no record and no running application names, and job archives (files of single jobs,
// directories of applications with several) without a record, older than the retention. A live record, a
// running application, or youth protects files.
func (r *Reconciler) collect(ctx context.Context) {
	inUse := map[string]bool{}
	owned := map[string]bool{}
	var ids []string
	r.opts.Registry.Scan(func(rec *registry.Summary) bool {
		if !rec.Terminal || !observe.YARNEnded(rec.YARNState) {
			inUse[rec.ApplicationID] = true
		}
		ids = append(ids, rec.ID)
		return true
	})
	for _, id := range ids {
		// One record decoded at a time: the registry holds most of each record compressed, and all of them
		// decoded at once would be the heap of the records many times over.
		if rec, ok := r.opts.Registry.Cached(id); ok {
			for _, p := range r.filesOf(rec) {
				owned[p] = true
			}
		}
	}
	removed := 0
	for _, dir := range []string{path.Join(r.opts.StagingRoot, ".flink"), r.opts.HADir} {
		if dir == "" {
			continue
		}
		removed += r.collectDir(ctx, dir, gcMinAge, func(name string) bool {
			return inUse[name] || !ident.ValidApplicationID(name) // only per-application directories
		})
	}
	archive := r.archiveDir()
	removed += r.collectDir(ctx, archive, max(r.opts.Retention, gcMinAge), func(name string) bool {
		if !ident.ValidFlinkJobID(name) && !ident.ValidApplicationID(name) {
			return true // only job archives and per-application archive directories
		}
		return owned[path.Join(archive, name)] || inUse[name]
	})
	if removed > 0 {
		r.opts.Logger.Info("removed unreferenced staging files", "count", removed)
	}
}

// collectDir removes the entries of dir older than minAge that keep does not claim.
func (r *Reconciler) collectDir(ctx context.Context, dir string, minAge time.Duration, keep func(string) bool) int {
	entries, err := r.opts.Files.ReadDir(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		r.opts.Logger.Warn("could not list staging files", "dir", dir, "error", err)
		return 0
	}
	n := 0
	for _, e := range entries {
		if keep(e.Name) || r.opts.Now().Sub(e.ModTime) < minAge {
			continue
		}
		// An application that still runs may not have a record yet (launched by an older gateway).
		if ident.ValidApplicationID(e.Name) {
			if app, err := r.opts.RM.App(ctx, e.Name); err == nil && !app.State.Terminal() {
				continue
			} else if err != nil && !errors.Is(err, yarnclient.ErrNotFound) {
				continue
			}
		}
		if err := r.opts.Files.RemoveAll(ctx, path.Join(dir, e.Name)); err != nil {
			r.opts.Logger.Warn("could not remove an unreferenced staging file", "path", path.Join(dir, e.Name), "error", err)
			continue
		}
		n++
	}
	return n
}
