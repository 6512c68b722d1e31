package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/yarngate/yarngate/api"
)

// decodeJobRequest parses a JSON job request strictly: unknown fields and trailing data are errors.
func decodeJobRequest(b []byte) (api.JobRequest, error) {
	var req api.JobRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return api.JobRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: jsonProblem(err)}}}
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 { // dec.More misses a stray '}' or ']'
		return api.JobRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: "trailing data after the JSON object"}}}
	}
	return req, nil
}

// jsonProblem turns a decoding error into a client-safe reason.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "the body must be a JSON object"
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be %s", typeErr.Field, jsonType(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// jsonType names, for a client, the JSON type that decodes into t (never the Go type).
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// decodeSessionRequest parses a JSON session request strictly.
func decodeSessionRequest(b []byte) (api.SessionRequest, error) {
	var req api.SessionRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return api.SessionRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: jsonProblem(err)}}}
	}
	if strings.TrimSpace(string(b[dec.InputOffset():])) != "" {
		return api.SessionRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: "trailing data after the JSON object"}}}
	}
	return req, nil
}
