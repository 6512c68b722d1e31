package zk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
)

// Migration from the previous layout, which kept key "<table>/<name>" as the flat child <Root>/<table>/<name>.
// A Store moves such keys into their buckets before it first lists or subscribes to a table, and again at most
// every MigrateInterval while it lists or keeps a subscription (older instances still running during a rolling
// upgrade write flat keys). Each key moves in one multi: create it in its bucket with the flat znode's data,
// delete the flat znode at the version read, append to the bucket's feed. A concurrent writer of the flat key
// makes the move fail and retry at the next pass; nothing is lost or duplicated.
//
// What older instances see meanwhile: a moved key is a deleted key to them (their watch fires and their Get
// finds nothing), so they drop it from their caches and their updates of it fail with not found; keys they
// create flat reach newer instances at the next migration pass (within MigrateInterval). Create on a newer
// instance fails with registry.ErrExists when the flat key exists, so key claims stay exclusive in that
// direction; an older instance does not check buckets. Upgrade every instance, then the mixed period ends.
const (
	// maxLegacyChildren bounds the flat children listed in one reply on the shared connection: 20,000 names
	// of up to ~45 bytes stay under ZooKeeper's 1 MiB reply, whose excess ends the connection of every user
	// of the Watcher. A larger flat table is refused with an error saying so.
	maxLegacyChildren = 20000
)

// migrate moves table's flat keys into buckets, unless done within MigrateInterval (and not forced).
func (s *Store) migrate(ctx context.Context, table string, force bool) error {
	s.mu.Lock()
	if last, ok := s.migratedAt[table]; ok && !force && time.Since(last) < s.migrateEvery {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	n, err := s.migrateTable(ctx, table)
	if err != nil {
		return fmt.Errorf("migrate table %s to buckets: %w", table, err)
	}
	if n > 0 {
		s.w.log.Info("registry: moved keys of the previous layout into buckets", "table", table, "keys", n)
	}
	s.mu.Lock()
	s.migratedAt[table] = time.Now()
	s.mu.Unlock()
	return nil
}

// migrateTable lists table's flat children and moves them, ListConcurrency at a time; it returns how many
// moved.
func (s *Store) migrateTable(ctx context.Context, table string) (int, error) {
	var legacy []string
	tp := s.server(s.tablePath(table))
	err := s.call(ctx, func() error {
		ok, st, err := s.w.conn.Exists(tp)
		if err != nil {
			return storeError(err)
		}
		if !ok || st.NumChildren == 0 {
			return nil
		}
		if st.NumChildren > bucketCount+maxLegacyChildren {
			return fmt.Errorf("table znode %s has %d children, too many to list in one ZooKeeper reply; "+
				"move its keys with a client whose reply limit (jute.maxbuffer) is raised", tp, st.NumChildren)
		}
		zs, _, err := s.w.conn.Children(tp)
		if err != nil {
			return storeError(err)
		}
		for _, z := range zs {
			if isBucket(z) {
				continue
			}
			if name, ok := decodeSegment(z); ok {
				legacy = append(legacy, name)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var (
		moved   atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		next    = make(chan string)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(s.listConc, len(legacy)) {
		wg.Go(func() {
			for name := range next {
				var ok bool
				err := s.call(ctx, func() error {
					var err error
					ok, err = s.moveLegacy(table, name)
					return err
				})
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("move %s/%s: %w", table, name, err); cancel() })
				}
				if ok {
					moved.Add(1)
					s.w.metrics.migrated.Inc()
				}
			}
		})
	}
feed:
	for _, name := range legacy {
		select {
		case next <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return int(moved.Load()), first
}

// moveLegacy moves one flat key into its bucket. It reports false, with no error, when the flat key vanished
// or changed meanwhile (the next pass retries) or its bucket already holds the key (an older instance created
// it flat after a newer one created it in the bucket: the flat copy stays, logged, for an operator).
func (s *Store) moveLegacy(table, name string) (bool, error) {
	flat := s.server(s.legacyKeyPath(table, name))
	data, st, err := s.w.conn.Get(flat)
	if errors.Is(err, zk.ErrNoNode) {
		return false, nil
	}
	if err != nil {
		return false, storeError(err)
	}
	_, err = s.write(table, name,
		&zk.CreateRequest{Path: s.server(s.keyPath(table, name)), Data: data, Acl: s.w.acl},
		&zk.DeleteRequest{Path: flat, Version: st.Version})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrConflict):
		return false, nil
	case errors.Is(err, registry.ErrExists):
		s.w.log.Warn("registry: key exists in both layouts; keeping the bucketed one, leaving the flat one",
			"table", table, "key", name, "znode", flat)
		return false, nil
	}
	return false, err
}
