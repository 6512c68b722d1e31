//go:build unix

package reconcile

import "syscall"

// idleConnLimit is the most idle JobManager connections kept: the process's open-file limit (which Go raises
// to the hard limit at start) less reserveFiles, for the listeners, the API's clients (long polls), HDFS and
// ZooKeeper connections and new calls — but at least half the limit, so that a small limit still keeps
// connections to some JobManagers (and leaves the rest less than reserveFiles). 0 (no cap) when the limit is
// unknown.
func idleConnLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur == 0 || l.Cur >= 1<<40 {
		return 0
	}
	return int(max(l.Cur/2, l.Cur-min(l.Cur, reserveFiles)))
}

// reserveFiles is what idleConnLimit leaves to everything else: the default cap of concurrent long polls
// (5,000) and as many again for the rest.
const reserveFiles = 6144
