package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flinkcluster"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
	"go.yaml.in/yaml/v3"
)

// clusterJobManagerTimeout bounds one call to a registered cluster's JobManager.
const clusterJobManagerTimeout = 5 * time.Second

// clusterLocator is the locator of registered Flink clusters and what it follows in ZooKeeper: one
// zk.FlinkLeaders per path root on the gateway's quorum, made on first use and closed by close.
type clusterLocator struct {
	*flinkcluster.Locator

	mu      sync.Mutex
	leaders []*zk.FlinkLeaders
}

// newClusterLocator builds the locator of registered clusters: ZooKeeper registrations on w (nil: none), YARN
// registrations through rm.
func newClusterLocator(w *zk.Watcher, quorum string, rm *yarnclient.Client, logger *slog.Logger) *clusterLocator {
	c := &clusterLocator{}
	opts := flinkcluster.Options{RM: rm, Quorum: quorum, HTTP: &http.Client{Timeout: clusterJobManagerTimeout}}
	if w != nil {
		opts.NewLeaders = func(root string) (flinkcluster.LeaderSource, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			l, err := zk.NewFlinkLeaders(w, zk.FlinkLeadersOptions{Root: root,
				OnChange: func(clusterID string, l zk.JobManagerLeader) {
					logger.Info("registered cluster's JobManager leader", "root", root, "clusterId", clusterID,
						"known", l.Known, "address", l.Address, "certain", l.Certain, "error", l.Err)
				}})
			if err != nil {
				return nil, err
			}
			c.leaders = append(c.leaders, l)
			return l, nil
		}
	}
	c.Locator = flinkcluster.New(opts)
	return c
}

// close stops following leaders in ZooKeeper.
func (c *clusterLocator) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.leaders {
		l.Close()
	}
	c.leaders = nil
}

// registerConfiguredClusters registers the clusters of clusters.file (a YAML list of POST /v1/clusters
// bodies) as the gateway's own user. A malformed file or registration stops the start; a cluster that cannot
// be registered now (unreachable, no leader) is logged and left out until the next start or a POST.
func registerConfiguredClusters(ctx context.Context, file string, jobs *job.Service, logger *slog.Logger) error {
	if file == "" {
		return nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("clusters.file: %w", err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("clusters.file %s: %w", file, err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("clusters.file %s: %w", file, err)
	}
	var reqs []api.FlinkClusterRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reqs); err != nil {
		return fmt.Errorf("clusters.file %s: a list of registrations (id, name, rest, zookeeper, yarnApplicationId, acl): %w", file, err)
	}
	for _, req := range reqs {
		c, created, err := jobs.RegisterCluster(ctx, req)
		var spec *api.SpecError
		switch {
		case errors.As(err, &spec):
			return fmt.Errorf("clusters.file %s: cluster %q: %w", file, req.ID, err)
		case err != nil:
			logger.Warn("could not register a configured cluster", "cluster", req.ID, "error", err)
		default:
			logger.Info("configured cluster registered", "cluster", c.ID, "kind", c.Kind, "new", created)
		}
	}
	return nil
}
