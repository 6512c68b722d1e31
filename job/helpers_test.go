package job

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/yarngate/yarngate/api"
)

// Ids the service tests share (the handler tests in httpapi use the same values).
var goodID = strings.Repeat("ab", 32)

// decodeJobRequest decodes a JSON job request strictly, as the HTTP layer does, for the service tests.
func decodeJobRequest(b []byte) (api.JobRequest, error) {
	var req api.JobRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	return req, err
}
