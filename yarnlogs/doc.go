// Package yarnlogs reads YARN's aggregated container logs as the NodeManagers leave them in HDFS: the
// directory layout of the TFile log aggregation controller (LogAggregationTFileController, the default) and
// the file format itself, a TFile (Hadoop's BCFile container of key/value blocks) whose keys are container
// ids and whose values hold each log file of the container (name, length, bytes).
//
// Everything is read through io.ReaderAt with a bounded window (see window), so the memory a reader holds
// does not depend on the size of the log: listing a file walks its data blocks and skips the log bytes, and
// Content streams one log file's bytes, or a range of them, without holding them. Compression "none" (YARN's
// default, yarn.nodemanager.log-aggregation.compression-type) seeks; "gz" (zlib) decompresses and discards
// up to the range asked for.
//
// The package does no I/O of its own and imports only the standard library: its callers (package job) open
// the HDFS files and hand them over.
package yarnlogs
