package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/boltstore"
)

// readResults are the figures of the reads suite: status reads served from the registry under load.
type readResults struct {
	Jobs             int     `json:"jobs"`
	Seconds          float64 `json:"seconds"`
	Connections      int     `json:"connections"`
	JobRPS           float64 `json:"jobRps"`
	JobP50Millis     float64 `json:"jobP50Millis"`
	JobP99Millis     float64 `json:"jobP99Millis"`
	HealthRPS        float64 `json:"healthRps"`
	HealthP99Millis  float64 `json:"healthP99Millis"`
	Ratio            float64 `json:"ratio"`
	Non2xx           int     `json:"non2xx"`
	RMRequestsIdle   float64 `json:"rmRequestsPerSecondIdle"`
	RMRequestsLoaded float64 `json:"rmRequestsPerSecondUnderLoad"`
	// RMRequests counts every request the gateway sent the RM, RMNegotiations those that carried an
	// SPNEGO AP-REQ (Kerberized cluster), RMRefused the 401 answers.
	RMRequests      int64   `json:"rmRequests"`
	RMNegotiations  int64   `json:"rmNegotiations"`
	RMRefused       int64   `json:"rmRefused"`
	TargetRPS       float64 `json:"targetRps"`
	TargetP99Millis float64 `json:"targetP99Millis"`
}

// rmCounter is a reverse proxy in front of the ResourceManager that counts the requests through it, those
// with an SPNEGO AP-REQ and the 401 answers. It passes SPNEGO headers and the hadoop.auth cookie through
// untouched.
type rmCounter struct {
	n, negotiations, refused atomic.Int64
	srv                      *http.Server
	url                      string
}

func startRMCounter(target string) (*rmCounter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The gateway reaches the proxy by the ResourceManager's host name (localhost on the test cluster): on a
	// Kerberized cluster its SPNEGO transport names the service after the URL's host (HTTP/<host>), and the
	// RM behind the proxy only accepts tickets for its own.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil || host == "" {
		host = "127.0.0.1"
	}
	c := &rmCounter{url: "http://" + net.JoinHostPort(host, port)}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusUnauthorized {
			c.refused.Add(1)
		}
		return nil
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate ") {
			c.negotiations.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln) //nolint:errcheck // ends with Close
	return c, nil
}

// seedRegistry writes n job records to a fresh embedded registry: most ended, a fifth running, as a
// gateway tracking n jobs holds them.
func seedRegistry(ctx context.Context, path string, n int) ([]string, error) {
	os.Remove(path)
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	reg, err := registry.Open(ctx, registry.Options{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	ts := time.Now().UnixMilli()
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("application_%d_%04d", ts, i+1)
		state, yarnState, final := "FINISHED", "FINISHED", "SUCCEEDED"
		if i%5 == 0 {
			state, yarnState, final = "RUNNING", "RUNNING", "UNDEFINED"
		}
		created := time.Now().Add(-time.Duration(n-i) * time.Minute).UTC()
		st := observe.Status{Schema: observe.SchemaVersion, State: state, Since: created,
			YARN: observe.YARN{ApplicationID: id, State: yarnState, FinalStatus: final, Queue: "default", User: "yarngate"},
			Flink: observe.Flink{JobID: fmt.Sprintf("%016x%016x", ts, i+1), State: state, Version: "1.20.3",
				Jobs: []observe.FlinkJob{{ID: fmt.Sprintf("%016x%016x", ts, i+1), Name: fmt.Sprintf("bench-job-%04d", i), State: state}}}}
		rec := registry.Record{ID: id, Kind: registry.KindJob, ApplicationID: id, Owner: "yarngate", Name: fmt.Sprintf("bench-job-%04d", i),
			Target: "application", CreatedAt: created}
		rec.SetStatus(st, "")
		if _, err := reg.Create(ctx, rec); err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	non2xx   int
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

// runWrk loads url (with a Lua script when given) for d and parses wrk's report.
func runWrk(ctx context.Context, target, script string, conns int, d time.Duration) (wrkResult, string, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, target)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("wrk: %w", err)
	}
	var r wrkResult
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, string(out), errors.New("wrk printed no Requests/sec")
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, l := range wrkLat.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(l[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[3])]
		dur := time.Duration(v * float64(unit))
		if string(l[1]) == "50" {
			r.p50 = dur
		} else {
			r.p99 = dur
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	return r, string(out), nil
}

// runReadsSuite measures GET /v1/jobs/{id} over n tracked jobs with wrk on loopback, against GET /healthz
// (the cheapest route, measured in the same run) as the baseline, while a proxy counts the
// ResourceManager requests the gateway makes. The gateway's staging root lies below hdfsRoot, which the
// benchmark removes at the end.
func runReadsSuite(ctx context.Context, binary string, env cluster, workDir, hdfsRoot string, n int, d time.Duration) (*readResults, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, errors.New("the reads suite needs wrk (Debian package wrk; make bench installs it)")
	}
	rmURL := os.Getenv("YARNGATE_RM_URL")
	if rmURL == "" {
		return nil, errors.New("YARNGATE_RM_URL is not set: source testenv/.run/cluster.env")
	}
	counter, err := startRMCounter(rmURL)
	if err != nil {
		return nil, err
	}
	defer counter.srv.Close()
	dbPath := filepath.Join(workDir, "reads-registry.db")
	fmt.Fprintf(os.Stderr, "reads: seeding %d job records\n", n)
	ids, err := seedRegistry(ctx, dbPath, n)
	if err != nil {
		return nil, fmt.Errorf("seed the registry: %w", err)
	}
	g, err := startGateway(ctx, binary, env, hdfsRoot+"/reads",
		"YARNGATE_YARN_RM_URLS="+counter.url, "YARNGATE_REGISTRY_BACKEND=embedded", "YARNGATE_REGISTRY_PATH="+dbPath,
		"YARNGATE_REGISTRY_LOST_GRACE=24h", "YARNGATE_REGISTRY_RECONCILE_INTERVAL=1s")
	if err != nil {
		return nil, err
	}
	defer g.stop()

	script := filepath.Join(workDir, "jobs.lua")
	var lua strings.Builder
	lua.WriteString("ids = {")
	for i, id := range ids {
		if i > 0 {
			lua.WriteString(",")
		}
		fmt.Fprintf(&lua, "%q", id)
	}
	lua.WriteString("}\nrequest = function()\n  return wrk.format(\"GET\", \"/v1/jobs/\" .. ids[math.random(#ids)])\nend\n")
	if err := os.WriteFile(script, []byte(lua.String()), 0o644); err != nil {
		return nil, err
	}
	// A read must answer from the registry before the load starts.
	resp, err := http.Get(g.url + "/v1/jobs/" + ids[0])
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /v1/jobs/%s = %d before the load", ids[0], resp.StatusCode)
	}

	res := &readResults{Jobs: n, Seconds: d.Seconds(), Connections: 32, TargetRPS: 5000, TargetP99Millis: 20}
	idleStart, idleFrom := counter.n.Load(), time.Now()
	time.Sleep(5 * time.Second)
	res.RMRequestsIdle = float64(counter.n.Load()-idleStart) / time.Since(idleFrom).Seconds()

	fmt.Fprintf(os.Stderr, "reads: wrk GET /healthz for %v\n", d)
	health, out, err := runWrk(ctx, g.url+"/healthz", "", res.Connections, d)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "reads: wrk GET /v1/jobs/{id} over %d jobs for %v\n", n, d)
	loadStart, loadFrom := counter.n.Load(), time.Now()
	jobs, out, err := runWrk(ctx, g.url, script, res.Connections, d)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	res.RMRequestsLoaded = float64(counter.n.Load()-loadStart) / time.Since(loadFrom).Seconds()
	res.RMRequests, res.RMNegotiations, res.RMRefused = counter.n.Load(), counter.negotiations.Load(), counter.refused.Load()
	res.JobRPS, res.JobP50Millis, res.JobP99Millis = jobs.rps, millis(jobs.p50), millis(jobs.p99)
	res.HealthRPS, res.HealthP99Millis = health.rps, millis(health.p99)
	res.Non2xx = jobs.non2xx + health.non2xx
	if health.rps > 0 {
		res.Ratio = jobs.rps / health.rps
	}
	return res, nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printReads(r *readResults) {
	fmt.Printf("status reads, GET /v1/jobs/{id} over %d tracked jobs, wrk -t2 -c%d, %.0fs each, on this machine:\n", r.Jobs, r.Connections, r.Seconds)
	fmt.Printf("  jobs %8.0f req/s  p50 %6.2fms  p99 %6.2fms   (target >= %.0f req/s, p99 < %.0fms)\n",
		r.JobRPS, r.JobP50Millis, r.JobP99Millis, r.TargetRPS, r.TargetP99Millis)
	fmt.Printf("  /healthz baseline %8.0f req/s  p99 %6.2fms   ratio %.2f   non-2xx %d\n", r.HealthRPS, r.HealthP99Millis, r.Ratio, r.Non2xx)
	fmt.Printf("  ResourceManager requests: %.2f/s idle, %.2f/s under load; %d in all, %d with an SPNEGO AP-REQ, %d answered 401\n",
		r.RMRequestsIdle, r.RMRequestsLoaded, r.RMRequests, r.RMNegotiations, r.RMRefused)
}
