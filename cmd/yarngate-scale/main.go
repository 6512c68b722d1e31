// Command yarngate-scale is the scale benchmark (make bench-scale): on the simulator (package simulator), the
// reconciler with 10⁴ running application jobs and 500 sessions × 20 jobs (state staleness, ResourceManager
// and JobManager calls per second, hanging JobManagers), status reads over HTTP at 10³, 10⁴ and 10⁵ records,
// and 5,000 concurrent long polls against the cap. It prints one line per figure and, at the end, whether
// each goal of the scale issue was met; it exits 1 when one was not.
//
// The registry is in memory in those parts (registrytest.MemStore): the figures are the reconciler's and the
// HTTP layer's, not a store's. The ZooKeeper part (zk.go) measures the ZooKeeper registry with 10⁵ records in a
// real ZooKeeper: instances opening, restarting and holding it, and their memory.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/httpapi"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"github.com/yarngate/yarngate/simulator"
	"github.com/yarngate/yarngate/yarnclient"
)

var home = ident.HomeTag("hdfs://sim:8020/yarngate")

type config struct {
	apps, sessions, sessionJobs int
	duration                    time.Duration
	changes                     int // state changes per second during the measurement
	readLevels                  []int
	readFor                     time.Duration
	longPolls                   int
	only                        string
	readClients                 int
	zkRecords, zkInstances      int
	zkHold                      time.Duration
	measureProfile              string
}

func main() {
	var c config
	var levels string
	flag.IntVar(&c.apps, "apps", 10000, "running application jobs")
	flag.IntVar(&c.sessions, "sessions", 500, "running sessions")
	flag.IntVar(&c.sessionJobs, "session-jobs", 20, "jobs per session")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "measurement of the reconciler")
	flag.IntVar(&c.changes, "changes", 20, "state changes per second while measuring")
	flag.StringVar(&levels, "read-levels", "1000,10000,100000", "record counts of the status-read measurement")
	flag.DurationVar(&c.readFor, "read-for", 5*time.Second, "status reads per level (three times this in all, in rounds of a fifth of it)")
	flag.IntVar(&c.readClients, "read-clients", 2, "concurrent clients of the status reads: as many as the cores measure the service's latency; more measure its queue for the CPU")
	flag.IntVar(&c.longPolls, "long-polls", 5000, "concurrent long polls (the cap)")
	flag.StringVar(&c.only, "only", "", "run one part: reconcile, reads, longpolls, memory or zk")
	flag.IntVar(&c.zkRecords, "zk-records", 100000, "records of the ZooKeeper part")
	flag.IntVar(&c.zkInstances, "zk-instances", 3, "gateway instances (processes) of the ZooKeeper part")
	flag.DurationVar(&c.zkHold, "zk-hold", 30*time.Second, "how long records change (a create per 10 ms) while the instances of the ZooKeeper part hold the registry")
	zkInstance := flag.String("zk-instance", "", "internal: run as one instance of the ZooKeeper part on this root")
	simServe := flag.Bool("sim-serve", false, "internal: run as the simulator process of the reconciler part")
	simRMLatency := flag.Duration("sim-rm-latency", 0, "internal: the simulator process's ResourceManager latency")
	simJMLatency := flag.Duration("sim-jm-latency", 0, "internal: the simulator process's JobManager latency")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.StringVar(&c.measureProfile, "measure-cpuprofile", "", "write a CPU profile of the reconciler's measurement (not its adoption) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if *simServe {
		if err := runSimServer(*simRMLatency, *simJMLatency); err != nil {
			fmt.Fprintln(os.Stderr, "simulator process:", err)
			os.Exit(1)
		}
		return
	}
	if *zkInstance != "" {
		if err := runZKInstance(*zkInstance, c.zkHold); err != nil {
			fmt.Fprintln(os.Stderr, "zk instance:", err)
			os.Exit(1)
		}
		return
	}
	gin.SetMode(gin.ReleaseMode)
	for _, l := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -read-levels:", err)
			os.Exit(2)
		}
		c.readLevels = append(c.readLevels, n)
	}
	ctx := context.Background()
	var goals []goal
	var err error
	run := func(name string, f func(context.Context, config) ([]goal, error)) {
		if err != nil || (c.only != "" && c.only != name) {
			return
		}
		var g []goal
		g, err = f(ctx, c)
		goals = append(goals, g...)
	}
	run("reconcile", benchReconcile)
	run("reads", benchReads)
	run("longpolls", benchLongPolls)
	run("memory", benchMemory)
	run("zk", benchZK)
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
	fmt.Println("\ngoals:")
	failed := false
	for _, g := range goals {
		mark := "ok  "
		if !g.met {
			mark, failed = "MISS", true
		}
		fmt.Printf("  %s %s\n", mark, g.text)
	}
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type goal struct {
	text string
	met  bool
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newRegistry opens a registry over an in-memory store.
func newRegistry(ctx context.Context) (*registry.Registry, error) {
	return registry.Open(ctx, registry.Options{Store: registrytest.NewMemStore(), Logger: discard()})
}

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// change is one state change made on the simulator, waiting to show in its record.
type change struct {
	kind string
	id   string // record id
	at   time.Time
	done func(registry.Record) bool
}

// benchReconcile runs the reconciler over the simulator with the configured applications and measures how
// long changes take to show in records, and the calls it makes.
func benchReconcile(ctx context.Context, c config) ([]goal, error) {
	fmt.Printf("reconciler: %d application jobs, %d sessions × %d jobs on the simulator\n", c.apps, c.sessions, c.sessionJobs)
	// The simulator runs in a process of its own, as the ResourceManager and JobManagers would: the gateway's
	// side (this process) holds one descriptor per JobManager connection, and its CPU profile and RSS are its own.
	// One descriptor per JobManager connection kept idle, which the gateway allows up to its open-file limit
	// less 6,144 (reconcile/jmtransport_unix.go), and some for the rest of the bench.
	if msg := ensureFileLimit(uint64(c.apps + c.sessions + 6144 + 1024)); msg != "" {
		fmt.Println("  " + msg)
	}
	sim, stopSim, err := startSimProcess(ctx, 20*time.Millisecond, 2*time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer stopSim()
	tags := []string{ident.TagGateway, home, ident.TagFlinkPrefix + "2.2.1", ident.TagTargetPrefix + "application"}
	appIDs, err := sim.AddApps(ctx, simulator.AppSpec{Tags: tags}, c.apps)
	if err != nil {
		return nil, err
	}
	sessionIDs, err := sim.AddApps(ctx, simulator.AppSpec{Session: true, SessionJobs: c.sessionJobs,
		Tags: append(slices.Clone(tags[:3]), ident.TagKindSession)}, c.sessions)
	if err != nil {
		return nil, err
	}
	reg, err := newRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	rm, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{ID: "rm1", URL: sim.RMURL()}}, User: "yarngate", Logger: discard()})
	if err != nil {
		return nil, err
	}
	promReg := prometheus.NewRegistry()
	metrics, err := reconcile.NewMetrics(promReg)
	if err != nil {
		return nil, err
	}
	const jmTimeout = 2 * time.Second
	r, err := reconcile.New(reconcile.Options{RM: rm, Files: noFiles{}, Registry: reg, HomeTag: home, StagingRoot: "/yarngate",
		Interval: time.Second, JobManagerTimeout: jmTimeout, JobManagerDial: sim.Dial, LookupHost: simulator.LookupHost,
		Logger: discard(), Metrics: metrics})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(runCtx) })
	defer func() { stop(); wg.Wait() }()

	want := c.apps + c.sessions + c.sessions*c.sessionJobs
	began := time.Now()
	for n := 0; n < want; n = len(reg.List(nil)) {
		if time.Since(began) > 10*time.Minute {
			return nil, fmt.Errorf("only %d of %d records adopted after %s", n, want, time.Since(began))
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("  adopted %d records in %s\n", want, time.Since(began).Round(time.Millisecond))
	time.Sleep(5 * time.Second) // settle: the first answers of every JobManager are in

	// Hanging JobManagers: one application job and one session, from now on.
	hangApp, hangSession := appIDs[len(appIDs)-1], sessionIDs[len(sessionIDs)-1]
	if err := errors.Join(sim.SetBehavior(ctx, hangApp, simulator.Hanging), sim.SetBehavior(ctx, hangSession, simulator.Hanging)); err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var (
		mu                 sync.Mutex
		pending            []change
		stale              = map[string][]time.Duration{}
		nextApp            = 0
		callsBeg, callsErr = sim.Calls(ctx)
		histBeg            = histograms(promReg)
		t0                 = time.Now()
	)
	if c.measureProfile != "" {
		f, err := os.Create(c.measureProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	// Watch records; a change shows when its record says so.
	checkCtx, stopCheck := context.WithCancel(ctx)
	var cw sync.WaitGroup
	cw.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-checkCtx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			mu.Lock()
			pending = slices.DeleteFunc(pending, func(ch change) bool {
				rec, ok := reg.Cached(ch.id)
				if ok && ch.done(rec) {
					stale[ch.kind] = append(stale[ch.kind], now.Sub(ch.at))
					return true
				}
				return false
			})
			mu.Unlock()
		}
	})
	tick := time.NewTicker(time.Second)
	for time.Since(t0) < c.duration {
		<-tick.C
		// The changes of this second, made without holding mu (the control calls take a while under load, and
		// the watcher must not wait for them).
		var batch []change
		for i := range c.changes {
			now := time.Now()
			switch i % 3 {
			case 0: // an application job ends (YARN)
				id := appIDs[nextApp%(len(appIDs)-1)]
				nextApp++
				if sim.SetAppState(ctx, id, "FINISHED") == nil {
					batch = append(batch, change{"application ended (YARN)", id, now, func(r registry.Record) bool { return r.Terminal }})
				}
			case 1: // a Flink job restarts (JobManager only)
				id := appIDs[len(appIDs)-2-rng.IntN(len(appIDs)/2)]
				jid, _ := ident.FlinkJobID(id)
				if app, ok := sim.App(ctx, id); ok && app.State == "RUNNING" && app.Jobs[jid].State == "RUNNING" &&
					sim.SetJobState(ctx, id, jid, "RESTARTING") == nil {
					batch = append(batch, change{"Flink job restarting (JobManager)", id, now,
						func(r registry.Record) bool { return r.Status.Flink.State == "RESTARTING" }})
				}
			case 2: // a session job is canceled (JobManager only)
				sid := sessionIDs[rng.IntN(len(sessionIDs)-1)]
				app, ok := sim.App(ctx, sid)
				if !ok {
					continue
				}
				jid := app.JobOrder[rng.IntN(len(app.JobOrder))]
				if app.Jobs[jid].State == "RUNNING" && sim.SetJobState(ctx, sid, jid, "CANCELED") == nil {
					batch = append(batch, change{"session job canceled (JobManager)", ident.SessionJobID(sid, jid), now,
						func(r registry.Record) bool { return r.State == "CANCELED" }})
				}
			}
		}
		mu.Lock()
		pending = append(pending, batch...)
		mu.Unlock()
	}
	tick.Stop()
	if c.measureProfile != "" {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(t0)
	callsEnd, callsEndErr := sim.Calls(ctx)
	histEnd := histograms(promReg)
	// Let the last changes show (bounded).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		n := len(pending)
		mu.Unlock()
		if n == 0 {
			break
		}
	}
	stopCheck()
	cw.Wait()
	if err := errors.Join(callsErr, callsEndErr); err != nil {
		return nil, err
	}

	rmCalls := float64(simulator.Total(callsEnd.RM)-simulator.Total(callsBeg.RM)) / elapsed.Seconds()
	jmCalls := float64(simulator.Total(callsEnd.JobManager)-simulator.Total(callsBeg.JobManager)) / elapsed.Seconds()
	fmt.Printf("  over %s: ResourceManager %.2f calls/s, JobManagers %.0f calls/s (%d running jobs), 2 JobManagers hanging (timeout %s)\n",
		elapsed.Round(time.Second), rmCalls, jmCalls, c.apps+c.sessions*c.sessionJobs, jmTimeout)
	for k, v := range callsEnd.RM {
		if d := v - callsBeg.RM[k]; d > 0 {
			fmt.Printf("    RM %-28s %d\n", k, d)
		}
	}
	for k, v := range callsEnd.JobManager {
		if d := v - callsBeg.JobManager[k]; d > 0 {
			fmt.Printf("    JM %-28s %d\n", k, d)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(histEnd)) {
		e, b := histEnd[name], histBeg[name]
		if n := e.count - b.count; n > 0 {
			fmt.Printf("    %-58s n=%-4d mean %s, slowest ≤ %s\n", name, n,
				time.Duration((e.sum-b.sum)/float64(n)*float64(time.Second)).Round(time.Millisecond), e.slowest(b))
		}
	}
	var all []time.Duration
	for kind, d := range stale {
		slices.Sort(d)
		all = append(all, d...)
		fmt.Printf("  staleness of %-36s n=%-5d p50 %-8s p99 %-8s max %s\n", kind+":", len(d),
			percentile(d, 0.5).Round(time.Millisecond), percentile(d, 0.99).Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	}
	slices.Sort(all)
	p99 := percentile(all, 0.99)
	fmt.Printf("  staleness of every change: n=%d p99 %s max %s; not seen within 30 s after: %d\n", len(all),
		p99.Round(time.Millisecond), percentile(all, 1).Round(time.Millisecond), len(pending))
	fmt.Printf("  RSS %d MiB with %d records\n", rss()>>20, want)
	maxStale := percentile(all, 1)
	return []goal{
		{fmt.Sprintf("state staleness p99 %s ≤ 5s", p99.Round(time.Millisecond)), p99 <= 5*time.Second && len(pending) == 0},
		{fmt.Sprintf("ResourceManager calls %.2f/s ≤ 1/s", rmCalls), rmCalls <= 1.0},
		{fmt.Sprintf("with 2 hanging JobManagers, the slowest change showed after %s ≤ timeout %s + 5s", maxStale.Round(time.Millisecond), jmTimeout),
			maxStale <= jmTimeout+5*time.Second},
	}, nil
}

// histogram is the state of one Prometheus histogram: its sum, count and cumulative bucket counts.
type histogram struct {
	sum     float64
	count   uint64
	buckets map[float64]uint64 // upper bound → cumulative count
}

// slowest is the upper bound of the highest bucket that gained observations since before (a bound on the
// slowest observation between the two).
func (h histogram) slowest(before histogram) string {
	bounds := slices.Sorted(maps.Keys(h.buckets))
	for _, ub := range bounds {
		if h.buckets[ub]-before.buckets[ub] == h.count-before.count {
			return time.Duration(ub * float64(time.Second)).Round(time.Millisecond).String()
		}
	}
	return "+Inf"
}

// histograms reads the reconciler's duration histograms (passes and their phases), by name and label.
func histograms(reg *prometheus.Registry) map[string]histogram {
	out := map[string]histogram{}
	mfs, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "yarngate_reconcile_") || mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			name := strings.TrimPrefix(mf.GetName(), "yarngate_reconcile_")
			for _, l := range m.GetLabel() {
				name += " " + l.GetName() + "=" + l.GetValue()
			}
			h := histogram{sum: m.GetHistogram().GetSampleSum(), count: m.GetHistogram().GetSampleCount(), buckets: map[float64]uint64{}}
			for _, b := range m.GetHistogram().GetBucket() {
				h.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			out[name] = h
		}
	}
	return out
}

// noFiles is an HDFS without files (the bench has no archives or launch files).
type noFiles struct{}

func (noFiles) Open(context.Context, string) (io.ReadCloser, error) { return nil, hdfs.ErrNotFound }
func (noFiles) ReadDir(context.Context, string) ([]hdfs.DirEntry, error) {
	return nil, hdfs.ErrNotFound
}
func (noFiles) RemoveAll(context.Context, string) error { return nil }

// OpenFile finds no file.
func (noFiles) OpenFile(context.Context, string) (hdfs.File, error) { return nil, hdfs.ErrNotFound }

// CanActAs says the bench's HDFS acts for no other user.
func (noFiles) CanActAs() bool { return false }

// gateway is the HTTP layer and job service over a registry (no launches: reads only).
func gateway(reg *registry.Registry, rm *yarnclient.Client, longPolls int) (http.Handler, error) {
	jm, err := job.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	svc, err := job.New(job.Options{Launcher: noLauncher{}, RM: rm, Registry: reg, Observer: noObserver{}, Instance: "bench", User: "yarngate",
		IdempotencySecret: []byte("0123456789abcdef0123456789abcdef"), MaxWait: 10 * time.Minute, Logger: discard(), Metrics: jm})
	if err != nil {
		return nil, err
	}
	auth, err := authn.New(authn.Options{NoneUser: "bench", Logger: discard()})
	if err != nil {
		return nil, err
	}
	promReg := prometheus.NewRegistry()
	hm, err := httpapi.NewMetrics(promReg)
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Options{Logger: discard(), Auth: auth, Registry: promReg, Metrics: hm,
		Jars: job.NewJarService(noJars{}, 1<<20, discard(), jm), Jobs: svc, Sessions: svc, MaxJarSize: 1 << 20,
		LongPolls: longPolls})
}

// seed writes n records, application jobs and session jobs (20 per session) mixed, and returns their ids.
func seed(ctx context.Context, reg *registry.Registry, n int) ([]string, error) {
	return seedInto(ctx, reg, n)
}

// recordCreator is where seedInto writes: a registry, or a recordCollector.
type recordCreator interface {
	Create(ctx context.Context, rec registry.Record) (registry.Record, error)
}

// recordCollector collects records instead of writing them.
type recordCollector struct{ recs []registry.Record }

// Create appends rec.
func (c *recordCollector) Create(_ context.Context, rec registry.Record) (registry.Record, error) {
	c.recs = append(c.recs, rec)
	return rec, nil
}

// seedInto creates n records: application jobs and sessions of 20 session jobs, alternately.
func seedInto(ctx context.Context, reg recordCreator, n int) ([]string, error) {
	ids := make([]string, 0, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; len(ids) < n; i++ {
		app := fmt.Sprintf("application_1767225600000_%06d", i)
		st := observe.Status{Schema: observe.SchemaVersion, State: "RUNNING", Since: base,
			YARN: observe.YARN{ApplicationID: app, State: "RUNNING", FinalStatus: "UNDEFINED", User: "bench", Queue: "default"}}
		if i%2 == 0 {
			st.Flink.JobID, _ = ident.FlinkJobID(app)
			st.Flink.State = "RUNNING"
			rec := registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Owner: "bench", Name: "job-" + app[len(app)-6:],
				Target: "application", CreatedAt: base.Add(time.Duration(i) * time.Second)}
			rec.SetStatus(st, "bench")
			if _, err := reg.Create(ctx, rec); err != nil {
				return nil, err
			}
			ids = append(ids, app)
			continue
		}
		sess := registry.Record{ID: app, Kind: registry.KindSession, ApplicationID: app, Owner: "bench", CreatedAt: base.Add(time.Duration(i) * time.Second)}
		sess.SetStatus(st, "bench")
		if _, err := reg.Create(ctx, sess); err != nil {
			return nil, err
		}
		for j := 0; j < 20 && len(ids) < n; j++ {
			jid := fmt.Sprintf("%016x%016x", i, j)
			js := st
			js.Flink.JobID, js.Flink.State = jid, "RUNNING"
			rec := registry.Record{ID: ident.SessionJobID(app, jid), Kind: registry.KindSessionJob, ApplicationID: app, Owner: "bench",
				Target: "session", CreatedAt: sess.CreatedAt}
			rec.SetStatus(js, "bench")
			if _, err := reg.Create(ctx, rec); err != nil {
				return nil, err
			}
			ids = append(ids, rec.ID)
		}
	}
	return ids, nil
}

// serve starts an HTTP server for h on 127.0.0.1 and returns its base URL.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// readRounds is how many times each level of the status-read measurement is measured (for a fifth of
// -read-for each: three times -read-for in all), the levels in turn, so that what else the machine and the
// process do meanwhile (its garbage collections, with every level's registry held) weighs on every level
// alike; a level's p99 is the median of its rounds'.
const readRounds = 15

// readLevel is one record count of the status-read measurement: its registry, served by a gateway, and what
// its reads measured.
type readLevel struct {
	n    int
	ids  []string
	reg  *registry.Registry
	base string
	stop func()
	lats []time.Duration
	p99s []time.Duration // of each round
	fail int64
}

// benchReads measures status reads (GET /v1/jobs/<id>, c.readClients at once) and list pages at each record count of
// c.readLevels: every level's registry is seeded and served first, then the levels are measured in turn,
// readRounds times, for a fifth of c.readFor each; req/s and p99 of every level are to be within 20 % of
// each other.
func benchReads(ctx context.Context, c config) ([]goal, error) {
	round := c.readFor / 5
	fmt.Printf("status reads (GET /v1/jobs/<id>, %d clients; %d rounds of %s per level, the levels in turn):\n", c.readClients, readRounds, round)
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	rm, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{URL: sim.RMURL()}}, User: "yarngate", Logger: discard()})
	if err != nil {
		return nil, err
	}
	var levels []*readLevel
	defer func() {
		for _, l := range levels {
			l.stop()
			l.reg.Close()
		}
	}()
	for _, n := range c.readLevels {
		reg, err := newRegistry(ctx)
		if err != nil {
			return nil, err
		}
		ids, err := seed(ctx, reg, n)
		if err != nil {
			reg.Close()
			return nil, err
		}
		h, err := gateway(reg, rm, 0)
		if err != nil {
			reg.Close()
			return nil, err
		}
		base, stop, err := serve(h)
		if err != nil {
			reg.Close()
			return nil, err
		}
		levels = append(levels, &readLevel{n: n, ids: ids, reg: reg, base: base, stop: stop})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	runtime.GC() // the seeding's garbage is not the reads'
	for _, l := range levels {
		readFor(client, c.readClients, l, time.Second, nil) // warm-up: connections, caches
	}
	for range readRounds {
		for _, l := range levels {
			var lats []time.Duration
			readFor(client, c.readClients, l, round, &lats)
			slices.Sort(lats)
			l.p99s = append(l.p99s, percentile(lats, 0.99))
			l.lats = append(l.lats, lats...)
		}
	}
	var rps, p99s []float64
	for _, l := range levels {
		pages, deep := listPages(client, l)
		slices.Sort(l.lats)
		r := float64(len(l.lats)) / (round.Seconds() * readRounds)
		slices.Sort(l.p99s)
		p99 := percentile(l.p99s, 0.5) // the median round's: one round's scheduling hiccup is not the level's
		rps, p99s = append(rps, r), append(p99s, float64(p99))
		fmt.Printf("  %7d records: %6.0f req/s, p50 %s, p99 %s (median of the rounds'; all reads together %s), %d failed; a list page of 100: p50 %s (from the middle %s)\n", l.n, r,
			percentile(l.lats, 0.5).Round(time.Microsecond), p99.Round(time.Microsecond), percentile(l.lats, 0.99).Round(time.Microsecond), l.fail,
			percentile(pages, 0.5).Round(time.Microsecond), percentile(deep, 0.5).Round(time.Microsecond))
		if l.fail > 0 {
			return nil, fmt.Errorf("%d reads failed at %d records", l.fail, l.n)
		}
	}
	fmt.Printf("  RSS %d MiB with every level held\n", rss()>>20)
	if len(levels) < 2 {
		return nil, nil
	}
	rpsSpread := slices.Max(rps) / slices.Min(rps)
	p99Spread := slices.Max(p99s) / slices.Min(p99s)
	return []goal{{fmt.Sprintf("status reads at %v records: req/s and p99 within 20%% of each other (highest/lowest: req/s ×%.2f, p99 ×%.2f)",
		c.readLevels, rpsSpread, p99Spread), rpsSpread <= 1.2 && p99Spread <= 1.2}}, nil
}

// readFor reads random records of a level with clients at once for d, adding each read's latency to lats (nil:
// kept nowhere, a warm-up) and failures to the level's.
func readFor(client *http.Client, clients int, l *readLevel, d time.Duration, lats *[]time.Duration) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	end := time.Now().Add(d)
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var mine []time.Duration
			var failed int64
			for time.Now().Before(end) {
				id := l.ids[rng.IntN(len(l.ids))]
				t := time.Now()
				resp, err := client.Get(l.base + "/v1/jobs/" + id)
				if err != nil {
					failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed++
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			if lats != nil {
				*lats = append(*lats, mine...)
				l.fail += failed
			}
		})
	}
	wg.Wait()
}

// listPages times list pages (GET /v1/jobs?limit=100) of a level: the first, and one from the middle of the
// table (a cursor past half of it); both walk the registry's creation-time index from their position, not
// the table. Failures count as the level's.
func listPages(client *http.Client, l *readLevel) (pages, deep []time.Duration) {
	mid := l.ids[len(l.ids)/2]
	var midCursor string
	if rec, ok := l.reg.Cached(mid); ok {
		midCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(rec.CreatedAt.UnixNano(), 10) + "/" + mid))
	}
	for i := range 40 {
		url, into := l.base+"/v1/jobs?limit=100", &pages
		if i%2 == 1 {
			url, into = url+"&cursor="+midCursor, &deep
		}
		t := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			l.fail++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			l.fail++
			continue
		}
		*into = append(*into, time.Since(t))
	}
	slices.Sort(pages)
	slices.Sort(deep)
	return pages, deep
}

// benchLongPolls holds c.longPolls long polls (the cap) and asks one more, which must get 429.
func benchLongPolls(ctx context.Context, c config) ([]goal, error) {
	fmt.Printf("long polls: %d held at the cap\n", c.longPolls)
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	rm, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{URL: sim.RMURL()}}, User: "yarngate", Logger: discard()})
	if err != nil {
		return nil, err
	}
	reg, err := newRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	ids, err := seed(ctx, reg, 100)
	if err != nil {
		return nil, err
	}
	h, err := gateway(reg, rm, c.longPolls)
	if err != nil {
		return nil, err
	}
	base, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.longPolls + 10}}
	heapBefore, rssBefore, gBefore := heap(), rss(), runtime.NumGoroutine()
	pollCtx, cancel := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		started atomic.Int64
		refused atomic.Int64
	)
	for i := range c.longPolls {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(pollCtx, http.MethodGet, base+"/v1/jobs/"+ids[i%len(ids)]+"?wait=FINISHED&timeout=10m", nil)
			started.Add(1)
			resp, err := client.Do(req)
			if err == nil {
				if resp.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
				}
				resp.Body.Close()
			}
		})
	}
	// Wait until the gateway holds them all (its gauge), then ask once more.
	held := func() int {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "yarngate_http_long_polls "); ok {
				n, _ := strconv.ParseFloat(v, 64)
				return int(n)
			}
		}
		return -1
	}
	deadline := time.Now().Add(2 * time.Minute)
	for held() < c.longPolls && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	n := held()
	heapAfter, rssAfter, gAfter := heap(), rss(), runtime.NumGoroutine()
	resp, err := http.Get(base + "/v1/jobs/" + ids[0] + "?wait=FINISHED&timeout=10m")
	status := 0
	if err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	cancel()
	wg.Wait()
	perPoll := float64(int64(heapAfter)-int64(heapBefore)) / float64(max(n, 1))
	fmt.Printf("  held %d long polls; heap +%d MiB (%.1f KiB per long poll, client and server sides in one process), RSS +%d MiB, goroutines +%d\n",
		n, (int64(heapAfter)-int64(heapBefore))>>20, perPoll/1024, (rssAfter-rssBefore)>>20, gAfter-gBefore)
	fmt.Printf("  long poll %d: %d; refused among the first %d: %d\n", c.longPolls+1, status, c.longPolls, refused.Load())
	if err != nil {
		return nil, errors.Join(errors.New("the long poll over the cap failed"), err)
	}
	return []goal{
		{fmt.Sprintf("%d concurrent long polls held (%.1f KiB each, both sides)", n, perPoll/1024), n == c.longPolls && refused.Load() == 0},
		{fmt.Sprintf("long poll %d over the cap: %d (want 429)", c.longPolls+1, status), status == http.StatusTooManyRequests},
	}, nil
}

// noObserver is the reconciler seen from the job service in a read-only bench.
type noObserver struct{}

func (noObserver) Observe(context.Context, string) error { return nil }
func (noObserver) Leading() bool                         { return false }
func (noObserver) LastPass() time.Time                   { return time.Now() }

var errReadOnly = errors.New("bench: read-only gateway")

// noLauncher launches nothing (reads only).
type noLauncher struct{}

func (noLauncher) FlinkVersions() []string { return []string{"2.2.1"} }
func (noLauncher) Prepare(context.Context, launch.Spec) (*launch.Prepared, error) {
	return nil, errReadOnly
}
func (noLauncher) NewApplication(context.Context, *launch.Prepared) (*yarnclient.NewApplication, error) {
	return nil, errReadOnly
}
func (noLauncher) Submit(context.Context, *launch.Prepared, *yarnclient.NewApplication) (launch.Launched, error) {
	return launch.Launched{}, errReadOnly
}
func (noLauncher) FindByTags(context.Context, string, string, launch.Kind) (*yarnclient.App, error) {
	return nil, errReadOnly
}
func (noLauncher) Jar(context.Context, string, string, string) (flink.RemoteFile, string, error) {
	return flink.RemoteFile{}, "", errReadOnly
}
func (noLauncher) RunInSession(context.Context, launch.SessionRun) (launch.SessionResult, error) {
	return launch.SessionResult{}, errReadOnly
}
func (noLauncher) ShutdownSession(context.Context, string, string) error { return errReadOnly }

// noJars is a jar store without jars.
type noJars struct{}

func (noJars) Put(context.Context, io.Reader, string) (hdfs.PutResult, error) {
	return hdfs.PutResult{}, errReadOnly
}
func (noJars) Get(context.Context, string) (hdfs.Jar, error) { return hdfs.Jar{}, hdfs.ErrNotFound }
func (noJars) List(context.Context) ([]hdfs.Jar, error)      { return nil, nil }
func (noJars) Delete(context.Context, string) error          { return errReadOnly }
