// Package api holds yarngate's HTTP API contract: the wire types (the job and session objects, the request
// bodies, the cluster view, the jar object, the error body and its codes) and the OpenAPI 3 document,
// embedded so that the gateway serves exactly the file kept in the repository (GET /v1/openapi.yaml) and
// tests can check the router against it.
//
// Dependency rule: api imports nothing of ours (the standard library only), so that a Go client, a CLI or
// a dashboard can use it without gin or HDFS; gateway and httpapi import it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document (YAML) describing every route of the gateway.
//
//go:embed openapi.yaml
var OpenAPI []byte
