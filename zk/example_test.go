package zk_test

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yarngate/yarngate/zk"
)

// rmRouter is what the gateway's YARN client offers (yarnclient.Client.SetActive); zk does not import it.
type rmRouter interface{ SetActive(id string) error }

// The gateway's wiring: one Watcher per quorum, the RM tracker routing the YARN client, and a FlinkLeaders
// tracker feeding job links. An uncertain leader means "probe haState" (RM) or "use amRPCAddress" (Flink).
func Example() {
	servers, chroot, err := zk.ParseConnectString("localhost:2181") // hadoop.zk.address
	if err != nil {
		panic(err)
	}
	w, err := zk.New(zk.Options{Servers: servers, Chroot: chroot, Logger: slog.Default(),
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	var yarn rmRouter // the gateway's *yarnclient.Client
	rm, err := zk.NewRMLeaderTracker(w, zk.RMLeaderOptions{
		ClusterID: "yarn-cluster", // yarn.resourcemanager.cluster-id
		OnChange: func(l zk.RMLeader) {
			if l.Certain && l.ID != "" && yarn != nil {
				_ = yarn.SetActive(l.ID) // an unknown rm id is the client's error to report
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer rm.Close()

	jms, err := zk.NewFlinkLeaders(w, zk.FlinkLeadersOptions{
		Root: "/flink", // high-availability.zookeeper.path.root the gateway gives launched clusters
		OnChange: func(appID string, l zk.JobManagerLeader) {
			if l.Certain && l.Known {
				slog.Info("JobManager REST leader", "app", appID, "url", l.Address)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer jms.Close()
	_ = jms.Watch("application_1700000000000_0001") // on YARN the HA cluster id is the application id
}
