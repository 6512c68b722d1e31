package yarnlogs

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Layout locates the aggregated logs of an application in the remote log directory.
type Layout struct {
	// Root is yarn.nodemanager.remote-app-log-dir, an absolute HDFS path (default /tmp/logs).
	Root string
	// Suffix is yarn.nodemanager.remote-app-log-dir-suffix (default "logs").
	Suffix string
}

// DefaultLayout is YARN's default: /tmp/logs with the suffix "logs".
var DefaultLayout = Layout{Root: "/tmp/logs", Suffix: "logs"}

// AppDirs returns the directories where the TFile controller may have put the logs of application appID
// owned by user, the newest layout first: Hadoop 3.3 and later write
// <root>/<user>/bucket-<suffix>-tfile/<bucket>/<appId>, where bucket is the application's sequence number
// modulo 10000 as four digits; older versions wrote <root>/<user>/<suffix>/<appId>, which newer ones still
// read.
func (l Layout) AppDirs(user, appID string) ([]string, error) {
	seq, err := appSequence(appID)
	if err != nil {
		return nil, err
	}
	if user == "" || strings.ContainsAny(user, "/") {
		return nil, fmt.Errorf("aggregated logs of %s: bad user %q", appID, user)
	}
	root, suffix := l.Root, l.Suffix
	if root == "" {
		root = DefaultLayout.Root
	}
	if suffix == "" {
		suffix = DefaultLayout.Suffix
	}
	bucket := fmt.Sprintf("%04d", seq%10000)
	return []string{
		path.Join(root, user, "bucket-"+suffix+"-tfile", bucket, appID),
		path.Join(root, user, suffix, appID),
	}, nil
}

// appSequence returns n of application_<timestamp>_<n>.
func appSequence(appID string) (int, error) {
	parts := strings.Split(appID, "_")
	if len(parts) != 3 || parts[0] != "application" {
		return 0, fmt.Errorf("%q is not an application id", appID)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not an application id", appID)
	}
	return n, nil
}

// NodeFile reports whether name, an entry of an application's log directory, is a node's finished
// aggregated log file: <host>_<port>, or <host>_<port>_<timestamp> for a rolling upload; ".tmp" files
// are uploads under way.
func NodeFile(name string) bool {
	return name != "" && !strings.HasSuffix(name, ".tmp") && !strings.HasPrefix(name, ".") && strings.Contains(name, "_")
}
