package hdfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"time"
)

// Prepare creates the staging directories (mode 0755) if needed and warns when an existing one is not
// readable and searchable by everyone, which YARN PUBLIC localisation of staged jars needs.
func (s *Store) Prepare(ctx context.Context) error {
	l, err := s.pool.get(ctx)
	if err != nil {
		return fmt.Errorf("prepare staging root: %w", err)
	}
	defer l.release()
	for _, dir := range []string{s.tmpDir, s.jarsDir} {
		if err := l.check(l.c.MkdirAll(dir, 0o755)); err != nil {
			return fmt.Errorf("prepare staging root: create %s: %w", dir, err)
		}
	}
	for _, dir := range []string{s.opts.Root, s.jarsDir} {
		fi, err := l.c.Stat(dir)
		if err = l.check(err); err != nil {
			return fmt.Errorf("prepare staging root: %w", err)
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			s.opts.Logger.Warn("staging directory is not world-readable; YARN cannot localise its jars as PUBLIC resources",
				"path", dir, "mode", fi.Mode().Perm().String())
		}
	}
	return nil
}

// CleanTemp removes temporary upload files and abandoned empty claims older than maxAge, left behind by a
// process that died mid-upload, and returns how many it removed.
func (s *Store) CleanTemp(ctx context.Context, maxAge time.Duration) (int, error) {
	l, err := s.pool.get(ctx)
	if err != nil {
		return 0, fmt.Errorf("clean temporary uploads: %w", err)
	}
	defer l.release()
	cutoff := time.Now().Add(-maxAge)
	removed := 0
	for _, dir := range []string{s.tmpDir, s.jarsDir} {
		entries, err := l.c.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err = l.check(err); err != nil {
			return removed, fmt.Errorf("clean temporary uploads: %w", err)
		}
		for _, fi := range entries {
			stale := !fi.IsDir() && fi.ModTime().Before(cutoff)
			if dir == s.jarsDir {
				stale = stale && fi.Size() == 0 // only abandoned claims, never jars
			}
			if !stale {
				continue
			}
			if err := ctx.Err(); err != nil {
				return removed, fmt.Errorf("clean temporary uploads: %w", err)
			}
			p := path.Join(dir, fi.Name())
			err := l.c.Remove(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err = l.check(err); err != nil {
				return removed, fmt.Errorf("clean temporary uploads: remove %s: %w", p, err)
			}
			removed++
		}
	}
	return removed, nil
}
