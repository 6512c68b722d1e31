package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/zk"
)

// The ZooKeeper part (-only zk): 10⁵ records (application jobs, sessions and session jobs mixed) written
// into a real ZooKeeper (the test cluster's: $YARNGATE_ZK, with $YARNGATE_ZOOKEEPER_DIGEST when set) under
// a fresh root, then gateway instances — child processes of this one, each a Watcher, SecureTree, a Store
// and registry.Open, as app does — open it, are killed and restarted, and hold it while records change.
// Figures: open and restart times, RSS per instance and per record (against an instance on an empty
// registry), the session count of every instance (1 means it never lost its connection), and the sizes of
// the listings: the largest bucket's against what one listing of the whole table would have been.

// zkInstanceReport is what a child instance prints, one line "open ..." when its registry is open and one
// "held ..." when it stops holding.
type zkInstanceReport struct {
	open     time.Duration
	rss      int64
	heap     uint64
	records  int
	sessions int
	lost     bool
	stdin    io.WriteCloser
}

func zkEnv() (server, digest string, err error) {
	server = os.Getenv("YARNGATE_ZK")
	if server == "" {
		return "", "", errors.New("YARNGATE_ZK is not set: run with the test cluster's cluster.env sourced (make bench-scale does)")
	}
	return server, os.Getenv("YARNGATE_ZOOKEEPER_DIGEST"), nil
}

// openInstance opens a registry on root as the gateway does.
func openInstance(ctx context.Context, server, digest, root string) (*registry.Registry, *zk.Watcher, func(), error) {
	w, err := zk.New(zk.Options{Servers: []string{server}, Digest: digest, Logger: zkLogger()})
	if err != nil {
		return nil, nil, nil, err
	}
	if digest != "" {
		if _, err := w.SecureTree(ctx, root); err != nil {
			w.Close()
			return nil, nil, nil, err
		}
	}
	s, err := zk.NewStore(w, zk.StoreOptions{Root: path.Join(root, "registry")})
	if err != nil {
		w.Close()
		return nil, nil, nil, err
	}
	reg, err := registry.Open(ctx, registry.Options{Store: s, Logger: discard()})
	if err != nil {
		s.Close()
		w.Close()
		return nil, nil, nil, err
	}
	return reg, w, func() { reg.Close(); s.Close(); w.Close() }, nil
}

// runZKInstance is the child process: open root, print "open", hold watching the session until a line
// "expect N" arrives on stdin (or hold passed), wait up to 30 s for N records, print "held", exit.
func runZKInstance(root string, hold time.Duration) error {
	server, digest, err := zkEnv()
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	reg, w, closeAll, err := openInstance(ctx, server, digest, root)
	if err != nil {
		return err
	}
	defer closeAll()
	opened := time.Since(start)
	n := len(reg.List(nil))
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Printf("open %d %d %d %d\n", opened, rss(), heap(), n)
	expect := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		n := -1
		if sc.Scan() {
			_, _ = fmt.Sscanf(sc.Text(), "expect %d", &n)
		}
		expect <- n
	}()
	lost := false
	deadline := time.After(hold)
	want := -1
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case want = <-expect:
			break wait
		case <-deadline:
			break wait
		case <-tick.C:
			if w.Session().State != zk.StateConnected {
				lost = true
			}
		}
	}
	for give := time.Now().Add(30 * time.Second); want > 0 && len(reg.List(nil)) < want && time.Now().Before(give); {
		if w.Session().State != zk.StateConnected {
			lost = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := w.Session()
	fmt.Printf("held %d %d %t\n", len(reg.List(nil)), s.Sessions, lost || s.State != zk.StateConnected)
	return nil
}

// startInstance starts a child instance on root and waits for its "open" line. The instance holds until
// finishInstance or hold passes.
func startInstance(root string, hold time.Duration) (*exec.Cmd, *bufio.Scanner, zkInstanceReport, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, zkInstanceReport{}, err
	}
	// The child holds until finishInstance says so; hold+10 minutes is only its safety cap.
	cmd := exec.Command(self, "-zk-instance", root, "-zk-hold", (hold + 10*time.Minute).String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, zkInstanceReport{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, zkInstanceReport{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, zkInstanceReport{}, err
	}
	sc := bufio.NewScanner(out)
	var r zkInstanceReport
	if !sc.Scan() {
		_ = cmd.Wait()
		return nil, nil, r, fmt.Errorf("instance on %s ended before opening", root)
	}
	f := strings.Fields(sc.Text())
	if len(f) != 5 || f[0] != "open" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, r, fmt.Errorf("instance said %q", sc.Text())
	}
	r.open = time.Since(start) // process start included: a restart as an operator sees it
	r.rss, _ = strconv.ParseInt(f[2], 10, 64)
	h, _ := strconv.ParseUint(f[3], 10, 64)
	r.heap = h
	r.records, _ = strconv.Atoi(f[4])
	r.stdin = in
	return cmd, sc, r, nil
}

// finishInstance tells the child how many records to wait for, then reads its "held" line and waits for
// its exit.
func finishInstance(cmd *exec.Cmd, sc *bufio.Scanner, r *zkInstanceReport, expect int) error {
	defer func() { _ = cmd.Wait() }()
	_, _ = fmt.Fprintf(r.stdin, "expect %d\n", expect)
	_ = r.stdin.Close()
	if !sc.Scan() {
		return errors.New("instance ended without its held line")
	}
	f := strings.Fields(sc.Text())
	if len(f) != 4 || f[0] != "held" {
		return fmt.Errorf("instance said %q", sc.Text())
	}
	r.records, _ = strconv.Atoi(f[1])
	r.sessions, _ = strconv.Atoi(f[2])
	r.lost = f[3] == "true"
	return nil
}

func benchZK(ctx context.Context, c config) ([]goal, error) {
	server, digest, err := zkEnv()
	if err != nil {
		return nil, err
	}
	fmt.Printf("\n== ZooKeeper registry: %d records at %s (digest %t), %d instances, load %s\n", c.zkRecords, server,
		digest != "", c.zkInstances, loadavg())
	root := fmt.Sprintf("/yarngate-scale/run-%d", time.Now().UnixNano())
	empty := root + "-empty"
	admin, _, err := gozk.Connect([]string{server}, 30*time.Second, gozk.WithLogger(quietZK{}))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if digest != "" {
		if err := admin.AddAuth("digest", []byte(digest)); err != nil {
			return nil, err
		}
	}
	defer func() {
		start := time.Now()
		n, err := deleteTreeParallel(admin, root)
		_, _ = deleteTreeParallel(admin, empty)
		fmt.Printf("cleanup: deleted %d znodes in %v (err %v)\n", n, time.Since(start).Round(time.Millisecond), err)
	}()

	// Seed through one instance, 32 writers at once.
	seeder, _, closeSeeder, err := openInstance(ctx, server, digest, root)
	if err != nil {
		return nil, err
	}
	recs := seedRecords(c.zkRecords)
	start := time.Now()
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Int64
		first  atomic.Value
	)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(recs) {
					return
				}
				if _, err := seeder.Create(ctx, recs[i]); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		closeSeeder()
		return nil, fmt.Errorf("seeding: %d creates failed, first: %v", failed.Load(), first.Load())
	}
	seedTook := time.Since(start)
	fmt.Printf("seeded %d records in %v (%.0f/s)\n", len(recs), seedTook.Round(time.Millisecond),
		float64(len(recs))/seedTook.Seconds())
	stored, flat, largest, snaps, err := listingSizes(admin, path.Join(root, "registry", registry.TableJobs))
	if err != nil {
		closeSeeder()
		return nil, err
	}
	fmt.Printf("stored values: %.0f bytes per record on average\n", float64(stored)/float64(len(recs)))
	fmt.Printf("listing sizes: the whole table in one reply would be %.2f MiB (ZooKeeper's limit 1 MiB); the largest "+
		"of 256 bucket replies is %.1f KiB\n", float64(flat)/(1<<20), float64(largest)/(1<<10))
	if snaps.count > 0 {
		fmt.Printf("bucket snapshots: %d, %.1f MiB in all (%.0f bytes per record), the largest %.1f KiB (bound 512 KiB)\n",
			snaps.count, float64(snaps.bytes)/(1<<20), float64(snaps.bytes)/float64(len(recs)), float64(snaps.largest)/(1<<10))
	}

	// Baseline: an instance on an empty registry.
	cmd, sc, base, err := startInstance(empty, 0)
	if err != nil {
		closeSeeder()
		return nil, err
	}
	if err := finishInstance(cmd, sc, &base, 0); err != nil {
		closeSeeder()
		return nil, err
	}
	fmt.Printf("empty registry: open %v, RSS %.1f MiB, heap %.1f MiB\n", base.open.Round(time.Millisecond),
		float64(base.rss)/(1<<20), float64(base.heap)/(1<<20))

	// Instances open, one is killed and restarted, all hold while records change.
	hold := c.zkHold
	type inst struct {
		cmd *exec.Cmd
		sc  *bufio.Scanner
		r   zkInstanceReport
	}
	insts := make([]*inst, 0, c.zkInstances)
	stopAll := func() {
		for _, in := range insts {
			if in.cmd.ProcessState == nil {
				_ = in.cmd.Process.Kill()
				_ = in.cmd.Wait()
			}
		}
	}
	for range c.zkInstances {
		cmd, sc, r, err := startInstance(root, hold)
		if err != nil {
			stopAll()
			closeSeeder()
			return nil, err
		}
		insts = append(insts, &inst{cmd, sc, r})
		fmt.Printf("instance %d: open %v, %d records, RSS %.1f MiB, heap %.1f MiB\n", len(insts), r.open.Round(time.Millisecond),
			r.records, float64(r.rss)/(1<<20), float64(r.heap)/(1<<20))
	}
	// Restart: kill the first (as a crash would) and start it again.
	_ = insts[0].cmd.Process.Kill()
	_ = insts[0].cmd.Wait()
	cmd, sc, restarted, err := startInstance(root, hold)
	if err != nil {
		stopAll()
		closeSeeder()
		return nil, err
	}
	insts[0] = &inst{cmd, sc, restarted}
	fmt.Printf("instance 1 killed and restarted: open %v, %d records\n", restarted.open.Round(time.Millisecond), restarted.records)

	// Changes while they hold: a new record and an update per 10 ms, through the seeder.
	changes := 0
	changeUntil := time.Now().Add(hold)
	for i := 0; time.Now().Before(changeUntil); i++ {
		rec := seedRecords(1)[0]
		rec.ID = fmt.Sprintf("application_1767225600001_%06d", i)
		rec.ApplicationID = rec.ID
		if _, err := seeder.Create(ctx, rec); err != nil {
			stopAll()
			closeSeeder()
			return nil, err
		}
		changes++
		time.Sleep(10 * time.Millisecond)
	}
	closeSeeder()
	fmt.Printf("created %d records while the instances held\n", changes)
	allConnected, maxOpen, want := true, restarted.open, len(recs)+changes
	sawAll := true
	var rssSum int64
	var heapSum uint64
	for i, in := range insts {
		if err := finishInstance(in.cmd, in.sc, &in.r, want); err != nil {
			stopAll()
			return nil, err
		}
		fmt.Printf("instance %d held %v: %d records, %d session(s), lost %t\n", i+1, hold, in.r.records, in.r.sessions, in.r.lost)
		allConnected = allConnected && in.r.sessions == 1 && !in.r.lost
		sawAll = sawAll && in.r.records == want
		maxOpen = max(maxOpen, in.r.open)
		rssSum += in.r.rss
		heapSum += in.r.heap
	}
	perInstance := rssSum / int64(len(insts))
	perRecord := float64(perInstance-base.rss) / float64(len(recs))
	heapPerRecord := float64(int64(heapSum)/int64(len(insts))-int64(base.heap)) / float64(len(recs))
	beyond := perRecord - float64(stored)/float64(len(recs))
	fmt.Printf("RSS per instance %.1f MiB; per record %.0f bytes (%.0f beyond the stored value); live heap per record %.0f bytes\n",
		float64(perInstance)/(1<<20), perRecord, beyond, heapPerRecord)
	return []goal{
		{fmt.Sprintf("ZooKeeper: %d records open in every instance, slowest open %v, restart %v (goal < 10 s)",
			len(recs), maxOpen.Round(time.Millisecond), restarted.open.Round(time.Millisecond)), restarted.open < 10*time.Second && maxOpen < 10*time.Second},
		{fmt.Sprintf("ZooKeeper: every instance kept its one session while holding (%d instances)", len(insts)), allConnected},
		{fmt.Sprintf("ZooKeeper: every instance saw all %d records, %d created while they held", want, changes), sawAll},
		{fmt.Sprintf("ZooKeeper: RSS %.0f bytes per record per instance, %.0f beyond the stored value (goal <= 1 KiB beyond)",
			perRecord, beyond), beyond <= 1024},
	}, nil
}

// seedRecords returns n records as seed writes them: application jobs, and sessions of 20 session jobs.
func seedRecords(n int) []registry.Record {
	mem := &recordCollector{}
	_, _ = seedInto(context.Background(), mem, n)
	return mem.recs
}

// snapshotSizes are the sizes of a table's bucket snapshots (zk.Store's %snapshot children).
type snapshotSizes struct{ count, bytes, largest int64 }

// listingSizes reads every bucket of a table: the stored value bytes, the reply sizes of one listing of all
// names (as the flat layout made) and of the largest bucket (4 bytes of length per name in a reply), and the
// sizes of the bucket snapshots.
func listingSizes(c *gozk.Conn, table string) (values, flat, largest int64, snaps snapshotSizes, err error) {
	for i := range 256 {
		b := fmt.Sprintf("%s/%%%02x", table, i)
		names, _, err := c.Children(b)
		if errors.Is(err, gozk.ErrNoNode) {
			continue
		}
		if err != nil {
			return 0, 0, 0, snaps, err
		}
		var size int64 = 16
		for _, n := range names {
			_, st, err := c.Exists(b + "/" + n)
			if err != nil {
				return 0, 0, 0, snaps, err
			}
			if strings.HasPrefix(n, "%") { // the bucket's snapshot, not a record
				snaps.count++
				snaps.bytes += int64(st.DataLength)
				snaps.largest = max(snaps.largest, int64(st.DataLength))
				continue
			}
			size += 4 + int64(len(n))
			values += int64(st.DataLength)
		}
		flat += size - 16
		largest = max(largest, size)
	}
	return values, flat + 16, largest, snaps, nil
}

// deleteTreeParallel deletes the tree at p, at most 32 deletes at a time.
func deleteTreeParallel(c *gozk.Conn, p string) (int, error) {
	sem := make(chan struct{}, 32)
	var n atomic.Int64
	var del func(p string) error
	del = func(p string) error {
		sem <- struct{}{}
		err := c.Delete(p, -1)
		<-sem
		switch {
		case err == nil:
			n.Add(1)
			return nil
		case errors.Is(err, gozk.ErrNoNode):
			return nil
		case !errors.Is(err, gozk.ErrNotEmpty):
			return err
		}
		children, _, err := c.Children(p)
		if err != nil {
			return err
		}
		var (
			wg    sync.WaitGroup
			first atomic.Value
		)
		for _, ch := range children {
			wg.Go(func() {
				if err := del(p + "/" + ch); err != nil {
					first.CompareAndSwap(nil, err)
				}
			})
		}
		wg.Wait()
		if e, ok := first.Load().(error); ok {
			return e
		}
		return del(p)
	}
	err := del(p)
	return int(n.Load()), err
}

// zkLogger is the ZooKeeper client's logger of an instance: with YARNGATE_SCALE_ZK_LOG=1 its Info lines (the
// store's "table listed": keys from snapshots and read one by one) on stderr, else nothing.
func zkLogger() *slog.Logger {
	if os.Getenv("YARNGATE_SCALE_ZK_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return discard()
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ") + fmt.Sprintf(" (%d CPUs)", runtime.NumCPU())
}
