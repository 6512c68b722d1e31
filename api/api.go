// Package api holds yarngate's HTTP API contract: the OpenAPI 3 document, embedded so that the gateway
// serves exactly the file kept in the repository (GET /v1/openapi.yaml) and tests can check the router
// against it.
//
// Dependency rule: api is a leaf package with no code dependencies; package gateway imports it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document (YAML) describing every route of the gateway.
//
//go:embed openapi.yaml
var OpenAPI []byte
