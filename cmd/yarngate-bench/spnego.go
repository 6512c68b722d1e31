package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/spnego"
)

// The spnego suite (Kerberized cluster only): what SPNEGO adds to one ResourceManager call. The same call,
// GET /ws/v1/cluster/info, is made one at a time over one kept-alive connection (so that no variant pays
// for TCP set-up), in four ways, interleaved in batches so that load from elsewhere on the machine affects
// all alike:
//
//   - refused: no credentials; the RM's authentication filter answers 401. The test cluster exempts no
//     endpoint from SPNEGO (no hadoop.http.authentication.kerberos.endpoint.whitelist: /isActive, /jmx,
//     /static and the REST API all answer 401), so there is no unauthenticated call to the same RM process
//     to compare with; the refusal is the floor of any call to it: the same HTTP server and filter chain,
//     without the servlet's work (a few hundred bytes of JSON for cluster/info).
//   - cookie: the hadoop.auth cookie of an earlier negotiation sent back (a kerberos.Transport that has
//     negotiated once): what the gateway does on every call while the cookie lasts
//     (hadoop.http.authentication.token.validity, 10 h by default). The RM checks the cookie's signature.
//   - fresh: a new kerberos.Transport (an empty cookie jar) per call, which sends an AP-REQ with the request
//     at once: what the gateway does on its first call to an endpoint. The service ticket comes from the
//     gokrb5 client's cache (one TGS exchange per ticket-granting ticket and service); the RM verifies the
//     AP-REQ (Java GSS, replay cache) and issues a cookie.
//   - challenge: a request without credentials, its 401 Negotiate, then the request with an AP-REQ: how
//     Hadoop's Java client and curl --negotiate start, and what the gateway does when the RM refuses an
//     expired cookie (one extra round trip).
//
// Every variant is checked to have made exactly the requests it claims (a counting RoundTripper under the
// SPNEGO layer). Beside the latencies it reports the gateway-side CPU cost of building an AP-REQ (gokrb5,
// without the network) and, on a cluster with one ResourceManager whose PID it can read, the RM's CPU time
// per call, less its CPU rate while the suite makes no call (approximate: CPU time comes in 10 ms ticks, and
// the RM's other work varies).

// spnegoCall is the ResourceManager call the suite times.
const spnegoCall = "/ws/v1/cluster/info"

// callStats are the latencies of one variant, and the RM's CPU time per call (-1: not measured).
type callStats struct {
	Calls      int     `json:"calls"`
	P50Millis  float64 `json:"p50Millis"`
	P90Millis  float64 `json:"p90Millis"`
	MeanMillis float64 `json:"meanMillis"`
	RMCPUMs    float64 `json:"rmCpuMillisPerCall"`
}

// spnegoResults is the spnego suite's part of the JSON summary. Ratios and added costs compare medians.
type spnegoResults struct {
	Path      string    `json:"path"`
	Refused   callStats `json:"refused"`
	Cookie    callStats `json:"cookie"`
	Fresh     callStats `json:"fresh"`
	Challenge callStats `json:"challenge"`
	// APReqMicros is the mean gateway-side time to build one AP-REQ header (service ticket cached).
	APReqMicros float64 `json:"apReqClientMicros"`

	CookieOverRefused   float64 `json:"cookieOverRefusedRatio"`
	FreshOverCookie     float64 `json:"freshOverCookieRatio"`
	ChallengeOverCookie float64 `json:"challengeOverCookieRatio"`
	AddedCookieMillis   float64 `json:"cookieMinusRefusedMillis"`
	AddedFreshMillis    float64 `json:"freshMinusCookieMillis"`
	AddedChallenge      float64 `json:"challengeMinusCookieMillis"`
}

// countingTransport counts what goes over the wire under the SPNEGO layer.
type countingTransport struct {
	base                         http.RoundTripper
	requests, negotiates, refuse atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if strings.HasPrefix(req.Header.Get("Authorization"), "Negotiate ") {
		c.negotiates.Add(1)
	}
	resp, err := c.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		c.refuse.Add(1)
	}
	return resp, err
}

// wire is what one call put on the wire: HTTP requests, AP-REQs and 401 answers.
type wire struct{ requests, negotiates, refused int64 }

func (c *countingTransport) snapshot() wire {
	return wire{c.requests.Load(), c.negotiates.Load(), c.refuse.Load()}
}

// spnegoVariant is one way of making the call; call returns the final status.
type spnegoVariant struct {
	label  string
	want   int  // the final status expected
	wire   wire // what one call must put on the wire
	call   func(ctx context.Context) (int, error)
	millis []float64
	// cpu is the RM's CPU time during this variant's batches, wall their length.
	cpu, wall time.Duration
}

func runSPNEGOSuite(ctx context.Context, env cluster, calls int) (*spnegoResults, error) {
	rmURL := strings.TrimRight(os.Getenv("YARNGATE_RM_URL"), "/")
	if rmURL == "" {
		return nil, errors.New("YARNGATE_RM_URL is not set: source testenv/.run/cluster.env")
	}
	if env.login == nil {
		return nil, errors.New("spnego: no Kerberos login")
	}
	u, err := url.Parse(rmURL + spnegoCall)
	if err != nil {
		return nil, err
	}
	spn := "HTTP/" + u.Hostname()
	base := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	plain := &http.Client{Transport: base}
	get := func(ctx context.Context, hc *http.Client, withAPReq bool) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if withAPReq {
			cl, err := env.login.Client()
			if err != nil {
				return nil, err
			}
			if err := spnego.SetSPNEGOHeader(cl, req, spn); err != nil {
				return nil, err
			}
		}
		return hc.Do(req)
	}
	status := func(resp *http.Response, err error) (int, error) {
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	newSPNEGOClient := func() (*http.Client, error) {
		t, err := env.login.NewTransport(rmURL, base)
		if err != nil {
			return nil, err
		}
		return &http.Client{Transport: t}, nil
	}
	kept, err := newSPNEGOClient()
	if err != nil {
		return nil, err
	}
	variants := []*spnegoVariant{
		{label: "refused without credentials (401, the floor)", want: http.StatusUnauthorized, wire: wire{1, 0, 1},
			call: func(ctx context.Context) (int, error) { return status(get(ctx, plain, false)) }},
		{label: "hadoop.auth cookie reused (the gateway)", want: http.StatusOK, wire: wire{1, 0, 0},
			call: func(ctx context.Context) (int, error) { return status(get(ctx, kept, false)) }},
		{label: "fresh SPNEGO, AP-REQ sent at once", want: http.StatusOK, wire: wire{1, 1, 0},
			call: func(ctx context.Context) (int, error) {
				hc, err := newSPNEGOClient()
				if err != nil {
					return 0, err
				}
				return status(get(ctx, hc, false))
			}},
		{label: "fresh SPNEGO after a 401 challenge", want: http.StatusOK, wire: wire{2, 1, 1},
			call: func(ctx context.Context) (int, error) {
				resp, err := get(ctx, plain, false)
				code, err := status(resp, err)
				if err != nil {
					return 0, err
				}
				if challenge := resp.Header.Get("WWW-Authenticate"); code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Negotiate") {
					return code, fmt.Errorf("no challenge: %d, WWW-Authenticate %q", code, challenge)
				}
				return status(get(ctx, plain, true))
			}},
	}
	// Warm-up: the connection, the service ticket in gokrb5's cache and the kept transport's cookie (its
	// first call negotiates); then each variant once, checked.
	if code, err := status(get(ctx, kept, false)); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("spnego: first authenticated call: %d %v", code, err)
	}
	for _, v := range variants {
		if err := v.once(ctx, base, nil); err != nil {
			return nil, err
		}
	}
	rmPID := resourceManagerPID()
	// The RM does other work meanwhile (other clients, its own schedulers): its CPU rate while this suite
	// makes no call, sampled before and after, is taken off each variant's CPU time over its batches' wall
	// time.
	idleCPU, idleWall := rmIdle(ctx, rmPID)
	fmt.Printf("spnego: %d calls of each kind, GET %s%s one at a time over a kept-alive connection, interleaved\n", calls, rmURL, spnegoCall)
	const batch = 20
	for round := 0; len(variants[0].millis) < calls; round++ {
		n := min(batch, calls-len(variants[0].millis))
		for k := range variants {
			v := variants[(round+k)%len(variants)]
			cpu0, t0 := rmCPU(rmPID), time.Now()
			for range n {
				if err := v.once(ctx, base, &v.millis); err != nil {
					return nil, err
				}
			}
			v.cpu += rmCPU(rmPID) - cpu0
			v.wall += time.Since(t0)
		}
	}
	cpu, wall := rmIdle(ctx, rmPID)
	idleCPU, idleWall = idleCPU+cpu, idleWall+wall
	res := &spnegoResults{Path: spnegoCall}
	stats := make([]callStats, len(variants))
	for i, v := range variants {
		s := callStats{Calls: len(v.millis), P50Millis: median(v.millis), P90Millis: percentile(v.millis, 0.9), MeanMillis: mean(v.millis), RMCPUMs: -1}
		if rmPID > 0 && idleWall > 0 {
			busy := float64(v.cpu) - float64(idleCPU)/float64(idleWall)*float64(v.wall)
			s.RMCPUMs = busy / float64(time.Millisecond) / float64(len(v.millis))
		}
		stats[i] = s
	}
	res.Refused, res.Cookie, res.Fresh, res.Challenge = stats[0], stats[1], stats[2], stats[3]
	if res.APReqMicros, err = apReqCost(env, spn, u.String()); err != nil {
		return nil, err
	}
	res.CookieOverRefused = res.Cookie.P50Millis / res.Refused.P50Millis
	res.FreshOverCookie = res.Fresh.P50Millis / res.Cookie.P50Millis
	res.ChallengeOverCookie = res.Challenge.P50Millis / res.Cookie.P50Millis
	res.AddedCookieMillis = res.Cookie.P50Millis - res.Refused.P50Millis
	res.AddedFreshMillis = res.Fresh.P50Millis - res.Cookie.P50Millis
	res.AddedChallenge = res.Challenge.P50Millis - res.Cookie.P50Millis
	return res, nil
}

// once makes one call, checks its status and what it put on the wire, and appends its latency in
// milliseconds to into (when not nil).
func (v *spnegoVariant) once(ctx context.Context, c *countingTransport, into *[]float64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	before := c.snapshot()
	start := time.Now()
	code, err := v.call(ctx)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("spnego, %s: %w", v.label, err)
	}
	after := c.snapshot()
	got := wire{after.requests - before.requests, after.negotiates - before.negotiates, after.refused - before.refused}
	if code != v.want || got != v.wire {
		return fmt.Errorf("spnego, %s: status %d with %d requests, %d AP-REQs, %d refusals; want %d with %d, %d, %d",
			v.label, code, got.requests, got.negotiates, got.refused, v.want, v.wire.requests, v.wire.negotiates, v.wire.refused)
	}
	if into != nil {
		*into = append(*into, millis(elapsed))
	}
	return nil
}

// apReqCost returns the mean time, in microseconds, that building one SPNEGO header takes on the gateway's
// side (gokrb5: the AP-REQ's authenticator encrypted with the cached service ticket's session key), with no
// network involved.
func apReqCost(env cluster, spn, target string) (float64, error) {
	cl, err := env.login.Client()
	if err != nil {
		return 0, err
	}
	const n = 2000
	start := time.Now()
	for range n {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		if err := spnego.SetSPNEGOHeader(cl, req, spn); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start)) / float64(time.Microsecond) / n, nil
}

// resourceManagerPID returns the PID of the test cluster's ResourceManager (its pid file in the run
// directory), or 0 when it cannot tell: no run directory, or two ResourceManagers.
func resourceManagerPID() int {
	dir := os.Getenv("YARNGATE_CLUSTER_RUN_DIR")
	if dir == "" || os.Getenv("YARNGATE_HA") == "1" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids", "rm1.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	if _, err := processCPU(pid); err != nil {
		return 0
	}
	return pid
}

// rmIdle samples the ResourceManager's CPU time over 2 s in which the suite makes no call.
func rmIdle(ctx context.Context, pid int) (cpu, wall time.Duration) {
	if pid <= 0 {
		return 0, 0
	}
	cpu0, t0 := rmCPU(pid), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	return rmCPU(pid) - cpu0, time.Since(t0)
}

// rmCPU returns the CPU time the ResourceManager has used (0 without a PID or when it cannot tell).
func rmCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	d, _ := processCPU(pid)
	return d
}

// percentile returns the q-quantile (0..1) of xs, nearest rank.
func percentile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func printSPNEGO(r *spnegoResults) {
	fmt.Printf("SPNEGO per ResourceManager call, GET %s, %d calls of each kind, one at a time, interleaved:\n", r.Path, r.Cookie.Calls)
	rmCPU := r.Cookie.RMCPUMs >= 0
	head := fmt.Sprintf("  %-46s %8s %8s %8s", "", "p50", "p90", "mean")
	if rmCPU {
		head += fmt.Sprintf(" %14s", "RM CPU/call*")
	}
	fmt.Println(head)
	for _, row := range []struct {
		label string
		s     callStats
	}{
		{"refused without credentials (401, the floor)", r.Refused},
		{"hadoop.auth cookie reused (the gateway)", r.Cookie},
		{"fresh SPNEGO, AP-REQ sent at once", r.Fresh},
		{"fresh SPNEGO after a 401 challenge", r.Challenge},
	} {
		line := fmt.Sprintf("  %-46s %6.2fms %6.2fms %6.2fms", row.label, row.s.P50Millis, row.s.P90Millis, row.s.MeanMillis)
		if rmCPU {
			line += fmt.Sprintf(" %12.2fms", row.s.RMCPUMs)
		}
		fmt.Println(line)
	}
	fmt.Printf("  cookie vs refused   %+6.2fms  ratio %.2f   (cookie check + the call's own work; no endpoint is exempt from SPNEGO)\n",
		r.AddedCookieMillis, r.CookieOverRefused)
	fmt.Printf("  fresh vs cookie     %+6.2fms  ratio %.2f   (AP-REQ verified by the RM, new cookie)\n", r.AddedFreshMillis, r.FreshOverCookie)
	fmt.Printf("  challenge vs cookie %+6.2fms  ratio %.2f   (plus the 401 round trip)\n", r.AddedChallenge, r.ChallengeOverCookie)
	fmt.Printf("  gateway side: one AP-REQ header costs %.0fµs (gokrb5, service ticket cached)\n", r.APReqMicros)
	if rmCPU {
		fmt.Println("  * the ResourceManager's CPU time per call, less its rate while no call was made (10 ms ticks: approximate)")
	}
}
