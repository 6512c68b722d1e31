//go:build !unix

package reconcile

// idleConnLimit is 0 (no cap on idle JobManager connections) where the open-file limit is not read.
func idleConnLimit() int { return 0 }
