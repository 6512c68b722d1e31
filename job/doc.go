// Package job is yarngate's service layer, the API the HTTP layer (package httpapi) calls: Service (jobs and
// sessions: submit, read, wait, list, cancel, stop, with idempotency keys claimed in the registry and launches
// that outlive their callers), JarService (staging jars), ClusterService (the cluster view), and their errors.
//
// Dependency rule: httpapi → job → launch, reconcile (types and one observation), observe, registry, clients.
// job never imports gin or httpapi; launch and reconcile never import job. The client errors the HTTP layer
// must tell apart are exported under job's own names (errors.go), so httpapi needs no client import. Reads
// render records and change nothing; every goroutine job starts is a launch Close waits for.
package job
