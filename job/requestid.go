package job

import (
	"context"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id, which the services log with their work. The HTTP
// layer's request-id middleware sets it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
