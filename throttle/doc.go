// Package throttle holds the gateway's admission limits, each a small value with an explicit clock (every
// method that depends on time takes now), so that tests drive them without sleeping:
//
//   - Limiter: a token bucket per client key (requests per second and a burst, golang.org/x/time/rate), that
//     says how long to wait when a request is refused (HTTP 429 with Retry-After);
//   - Gate: a cap on concurrent holders overall and per key (concurrent long polls);
//   - Pace: the minimum rate and overall deadline of one upload body, and when its next read must end.
//
// What a key is (the caller's remote address, or its authenticated principal) is the caller's business.
//
// Dependency rule: throttle imports the standard library and golang.org/x/time/rate only; httpapi uses it.
package throttle
