// Package gateway is yarngate's service layer: the services the HTTP layer (package httpapi) calls —
// JarService (staging jars), JobService (launching and describing jobs and sessions on YARN), RecordedJobs
// (the registry-backed front of JobService, with idempotency and the reconciler) and ClusterService (the
// cluster view) — and their errors.
//
// Dependency rule: httpapi → gateway → clients. gateway imports api (the wire types it returns) and the
// client packages (hdfs, yarnclient, flink, flink/jobmanager, zk, registry), consumed through small
// interfaces declared here (jarStore, fileStore, rmClient, ...); it never imports gin or httpapi, and client
// packages never import gateway. The client errors the HTTP layer must tell apart are exported under
// gateway's own names (errors.go), so httpapi needs no client import.
package job
