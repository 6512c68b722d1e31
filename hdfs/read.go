package hdfs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
)

// errClaimed means the final name exists but is still an empty claim of an upload in progress.
var errClaimed = errors.New("jar name claimed by an upload in progress")

// Get returns the staged jar with the given id. Errors: ErrInvalidID, ErrNotFound, ErrUnavailable.
func (s *Store) Get(ctx context.Context, id string) (Jar, error) {
	if !ValidID(id) {
		return Jar{}, fmt.Errorf("get jar %q: %w", id, ErrInvalidID)
	}
	l, err := s.pool.get(ctx)
	if err != nil {
		return Jar{}, fmt.Errorf("get jar %s: %w", id, err)
	}
	defer l.release()
	jar, err := s.readJar(l, id)
	if errors.Is(err, errClaimed) {
		err = ErrNotFound
	}
	if err != nil {
		return Jar{}, fmt.Errorf("get jar %s: %w", id, err)
	}
	return jar, nil
}

// List returns all staged jars, newest first. It costs one NameNode call per jar (for the metadata).
func (s *Store) List(ctx context.Context) ([]Jar, error) {
	l, err := s.pool.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("list jars: %w", err)
	}
	defer l.release()
	entries, err := l.c.ReadDir(s.jarsDir)
	if errors.Is(err, os.ErrNotExist) {
		return []Jar{}, nil // nothing staged yet
	}
	if err = l.check(err); err != nil {
		return nil, fmt.Errorf("list jars: %w", err)
	}
	jars := make([]Jar, 0, len(entries))
	for _, fi := range entries {
		id, ok := strings.CutSuffix(fi.Name(), ".jar")
		if !ok || !ValidID(id) || fi.IsDir() || fi.Size() == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list jars: %w", err)
		}
		attrs, err := l.c.ListXAttrs(s.jarPath(id))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err = l.check(err); err != nil {
			return nil, fmt.Errorf("list jars: %w", err)
		}
		jars = append(jars, s.jarFrom(id, fi, attrs))
	}
	slices.SortFunc(jars, func(a, b Jar) int {
		return cmp.Or(b.ModTime.Compare(a.ModTime), strings.Compare(a.ID, b.ID))
	})
	return jars, nil
}

// Delete removes the staged jar with the given id. Errors: ErrInvalidID, ErrNotFound, ErrUnavailable.
// Deleting a jar that running applications still localise makes their new containers fail, as it would
// with any HDFS file.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("delete jar %q: %w", id, ErrInvalidID)
	}
	l, err := s.pool.get(ctx)
	if err != nil {
		return fmt.Errorf("delete jar %s: %w", id, err)
	}
	defer l.release()
	p := s.jarPath(id)
	fi, err := l.c.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist), err == nil && fi.Size() == 0:
		return fmt.Errorf("delete jar %s: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("delete jar %s: %w", id, l.check(err))
	}
	err = l.c.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete jar %s: %w", id, ErrNotFound)
	}
	if err = l.check(err); err != nil {
		return fmt.Errorf("delete jar %s: %w", id, err)
	}
	return nil
}

// readJar returns the jar at its final path: ErrNotFound when absent, errClaimed when it is an empty claim.
func (s *Store) readJar(l *lease[*gohdfs.Client], id string) (Jar, error) {
	p := s.jarPath(id)
	fi, err := l.c.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return Jar{}, ErrNotFound
	}
	if err = l.check(err); err != nil {
		return Jar{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if fi.Size() == 0 {
		return Jar{}, errClaimed
	}
	attrs, err := l.c.ListXAttrs(p)
	if errors.Is(err, os.ErrNotExist) {
		return Jar{}, ErrNotFound
	}
	if err = l.check(err); err != nil {
		return Jar{}, fmt.Errorf("read metadata of %s: %w", p, err)
	}
	return s.jarFrom(id, fi, attrs), nil
}

// waitForClaim polls the final path until the upload holding the claim has renamed its jar over it
// (returns the jar), dropped it (ErrNotFound), or ClaimWait has passed (ErrBusy).
func (s *Store) waitForClaim(ctx context.Context, l *lease[*gohdfs.Client], id string) (Jar, error) {
	deadline := time.Now().Add(s.opts.ClaimWait)
	backoff := 20 * time.Millisecond
	for time.Now().Before(deadline) {
		if err := sleep(ctx, backoff); err != nil {
			return Jar{}, err
		}
		backoff = min(2*backoff, 500*time.Millisecond)
		jar, err := s.readJar(l, id)
		if !errors.Is(err, errClaimed) {
			return jar, err
		}
	}
	return Jar{}, fmt.Errorf("%w: %s", ErrBusy, s.jarPath(id))
}

func (s *Store) jarFrom(id string, fi os.FileInfo, attrs map[string]string) Jar {
	p := s.jarPath(id)
	return Jar{
		ID:        id,
		Name:      attrs[xattrName],
		Size:      fi.Size(),
		Path:      p,
		URI:       s.opts.FSURI + p,
		MainClass: attrs[xattrMainClass],
		ModTime:   fi.ModTime(),
	}
}
