//go:build !unix

package main

// ensureFileLimit does nothing where the open-file limit is not set this way.
func ensureFileLimit(uint64) string { return "" }
