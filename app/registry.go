package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/boltstore"
	"github.com/yarngate/yarngate/zk"
)

// records is the registry of jobs and sessions with what the reconciler needs around it.
type records struct {
	backend  string
	instance string
	reg      *registry.Registry
	election *zk.Election // nil for the embedded backend: the only instance reconciles
	// idemSecret keys the idempotency tags; stored in the registry, the same for every instance sharing it.
	idemSecret []byte
	closers    []func()
}

// close releases everything in reverse order of acquisition.
func (r *records) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// openRecords opens the registry the configuration names: ZooKeeper (shared by every instance using the
// same root, with an election of the one reconciler) or the embedded database (one instance).
func openRecords(ctx context.Context, cfg config.Config, zw *zk.Watcher, logger *slog.Logger) (*records, error) {
	backend := cfg.Registry.Backend
	if backend == config.RegistryAuto {
		backend = config.RegistryEmbedded
		if zw != nil {
			backend = config.RegistryZooKeeper
		}
	}
	r := &records{backend: backend, instance: instanceID()}
	var store registry.Store
	switch backend {
	case config.RegistryZooKeeper:
		if zw == nil {
			return nil, fmt.Errorf("registry.backend is zookeeper, but no ZooKeeper quorum is configured (zookeeper.quorum or hadoop.zk.address)")
		}
		if err := secureRegistryZnodes(ctx, cfg, zw, logger); err != nil {
			return nil, err
		}
		zs, err := zk.NewStore(zw, zk.StoreOptions{Root: path.Join(cfg.Registry.ZKRoot, "registry")})
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { zs.Close() })
		store = zs
	default:
		file := cfg.Registry.Path
		if dir := filepath.Dir(file); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("registry directory: %w", err)
			}
		}
		bs, err := boltstore.Open(file, boltstore.Options{Logger: logger})
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() {
			if err := bs.Close(); err != nil {
				logger.Warn("closing the registry database failed", "error", err)
			}
		})
		store = bs
	}
	reg, err := registry.Open(ctx, registry.Options{Store: store, Logger: logger})
	if err != nil {
		r.close()
		return nil, err
	}
	r.reg = reg
	r.closers = append(r.closers, reg.Close)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	r.idemSecret, err = reg.Secret(sctx, "idempotency")
	cancel()
	if err != nil {
		r.close()
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	if backend == config.RegistryZooKeeper {
		e, err := zk.NewElection(zw, zk.ElectionOptions{Path: path.Join(cfg.Registry.ZKRoot, "reconciler"), ID: r.instance,
			Logger: logger})
		if err != nil {
			r.close()
			return nil, err
		}
		r.election = e
		r.closers = append(r.closers, e.Close)
	}
	logger.Info("registry open", "backend", backend, "instance", r.instance)
	return r, nil
}

// errOpenRegistry is the refusal to keep records in ZooKeeper without digest credentials.
var errOpenRegistry = errors.New("the registry is in ZooKeeper (registry.backend, or auto with a known quorum) but " +
	"zookeeper.digest is not set: its znodes would be world-writable, and every launched job reaches the quorum; " +
	"set zookeeper.digest or zookeeper.digestFile (the same on every instance), registry.backend: embedded, " +
	"or registry.zkOpenACL: true to accept open znodes")

// secureRegistryZnodes closes registry.zkRoot (records, key claims, the reconciler election) to every identity
// but the gateway's digest identity, securing znodes earlier versions left world-open. Without a digest it
// refuses, unless registry.zkOpenACL accepts world-open znodes.
func secureRegistryZnodes(ctx context.Context, cfg config.Config, zw *zk.Watcher, logger *slog.Logger) error {
	if !zw.Protected() {
		if !cfg.Registry.ZKOpenACL {
			return errOpenRegistry
		}
		logger.Warn("zookeeper registry without zookeeper.digest (registry.zkOpenACL): its znodes are world-writable; "+
			"anything that reaches the quorum, launched jobs included, can change or delete records", "zkRoot", cfg.Registry.ZKRoot)
		return nil
	}
	roots := []string{cfg.Registry.ZKRoot}
	if cfg.Registry.ZKRoot == "/" {
		roots = []string{"/registry", "/reconciler"}
	}
	ctx, cancel := context.WithTimeout(ctx, secureTimeout)
	defer cancel()
	for _, root := range roots {
		fixed, err := zw.SecureTree(ctx, root)
		if err != nil {
			return fmt.Errorf("securing the registry's znodes: %w", err)
		}
		if fixed > 0 {
			logger.Warn("registry znodes were open to anyone; they now admit the gateway's digest identity only",
				"root", root, "secured", fixed)
		}
	}
	return nil
}

// secureTimeout bounds securing the registry's znodes at start-up, ZooKeeper session included.
const secureTimeout = 30 * time.Second

// reconcileOptions completes the reconciler's options with these records, the registry settings and the
// JobManager leaders (nil without JobManager HA).
func (r *records) reconcileOptions(cfg config.Config, opts reconcile.Options, leaders *zk.FlinkLeaders) reconcile.Options {
	opts.Registry = r.reg
	opts.Interval, opts.Retention = cfg.Registry.ReconcileInterval, cfg.Registry.Retention
	opts.LostGrace, opts.GCInterval = cfg.Registry.LostGrace, cfg.Registry.GCInterval
	if leaders != nil {
		opts.Leaders = leaders
	}
	if r.election != nil {
		opts.Leadership, opts.Instances = r.election, r.election
	}
	return opts
}

// serviceOptions completes the job service's options with these records.
func (r *records) serviceOptions(opts job.Options) job.Options {
	opts.Registry, opts.Backend, opts.Instance, opts.IdempotencySecret = r.reg, r.backend, r.instance, r.idemSecret
	if r.election != nil {
		opts.Instances = r.election
	}
	return opts
}

// instanceID names this process among the gateway instances: host, pid and a random part, so that a
// restarted process is a new instance.
func instanceID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
