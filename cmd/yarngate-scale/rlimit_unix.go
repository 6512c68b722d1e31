//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// ensureFileLimit raises the process's open-file limit to need when it is lower (the hard limit too, which
// only root may), and says what it did or why it could not ("" when nothing was needed).
func ensureFileLimit(need uint64) string {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Sprintf("open-file limit unknown (%v): the measurement may run out of descriptors", err)
	}
	if l.Cur >= need {
		return ""
	}
	was := l.Cur
	l.Cur = need
	l.Max = max(l.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Sprintf("WARNING: open-file limit %d, %d needed, not raised (%v): raise `ulimit -n`, or calls will fail with too many open files", was, need, err)
	}
	return fmt.Sprintf("open-file limit raised from %d to %d (a descriptor per JobManager connection)", was, need)
}
