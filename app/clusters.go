package app

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/yarngate/yarngate/flinkcluster"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
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
