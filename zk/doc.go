// Package zk follows leaders through ZooKeeper: the active YARN ResourceManager (the embedded elector's
// ActiveStandbyElectorLock znode) and the REST leader of every tracked Flink cluster (the
// leader/rest_server/connection_info znode that Flink's ZooKeeper HA services write).
//
// The package has four layers:
//
//   - Watcher keeps a set of znodes fresh over one github.com/go-zookeeper/zk connection. Watches are one-shot
//     in ZooKeeper, so every watch is re-armed after it fires; after a reconnect or a session expiry every path is
//     re-read (and re-armed where the old watch is gone); the library's session event channel, which holds six
//     events and drops the rest, is drained by a goroutine the Watcher owns; a periodic re-read bounds staleness
//     while a partitioned client hears nothing. Watcher is also a read-through cache whose snapshots say whether
//     they are certain: while the session is not healthy they are not, and callers fall back to probing.
//   - DecodeActiveRMInfo and DecodeLeaderInformation decode the two payloads: the protobuf ActiveRMInfoProto and
//     Flink's Java-serialised (address, session UUID) pair. Both are fuzzed and bound their allocations by the
//     input size.
//   - RMLeaderTracker and FlinkLeaders turn znode snapshots into leaders with change notifications.
//   - Store implements registry.Store on znodes <root>/<table>/%<bucket>/<name> (bucket.go): compare-and-set on
//     the znode's data version with an append to the bucket's change feed, Subscribe through a Watcher path per
//     bucket (256 per table), and List from compressed bucket snapshots plus the keys written since
//     (snapshot.go, load.go).
//   - Election makes this process a candidate in a leader election of its own (the ZooKeeper recipe: ephemeral
//     sequential znodes, the lowest leads, each other candidate watches its predecessor), for work that one
//     gateway instance at a time must do.
//
// ACLs: with Options.Digest the Watcher authenticates every session (go-zookeeper sends the credentials again
// after each reconnect, before any other request, and a new session after an expiry is a reconnect too), and
// every znode the Store and the Election create admits the digest identity only (DigestACL, all permissions;
// no world read: records hold job specs and owners). No Store call is sent before the credentials were
// accepted. Watcher.SecureTree closes a whole tree, migrating world-open znodes of earlier versions. Without
// Digest they create world-open znodes, as before.
//
// Concurrency contract: every goroutine is started by a Watcher and stopped by its Close (trackers' Close stops
// theirs earlier). Notifications are coalesced: a notify function or OnChange callback may skip intermediate
// states under load, but the last state is always delivered, and reading the snapshot after a notification
// always returns a state at least that new. Election's OnChange is the exception: it sees every leadership
// transition, in order.
//
// zk knows nothing of HTTP, YARN or Flink clients or HDFS: mapping an rm id to its web address, or routing REST
// calls to a JobManager, is the caller's job. It depends on go-zookeeper/zk, protobuf wire decoding, the
// Prometheus client and package registry (the Store interface) only. go-zookeeper/zk has no SASL, so znodes whose ACL admits only sasl: identities are
// unreadable (ErrNoAuth); callers must then probe instead.
package zk
