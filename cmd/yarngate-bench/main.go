// Command yarngate-bench measures the gateway against the real test cluster (suites, -suites):
//
//   - upload throughput of a 256 MiB jar through POST /v1/jars into HDFS, compared in the same run with
//     writing the same file through Hadoop's own client (testenv/hadoop/PutBench.java, the
//     `hdfs dfs -put` code path), reported as a ratio;
//   - the gateway's peak RSS (VmHWM) during a 1 GiB upload, with the gateway running as a subprocess;
//   - (jobs) time from submission to YARN ACCEPTED and to the Flink job RUNNING, POST /v1/jobs against
//     Flink's own `flink run-application -t yarn-application`, once as it comes (shipping FLINK_HOME's
//     lib/ and plugins/) and once with `yarn.provided.lib.dirs` pointing at the distribution the gateway
//     uploaded to HDFS, alternating, with CPU time and HDFS bytes staged per submission;
//   - (sessions) submission into a warm session until the job runs, POST /v1/jobs against
//     `flink run -t yarn-session -Dyarn.application.id=...`, 20 jobs each, into the same session;
//   - (reads) GET /v1/jobs/{id} throughput and latency over 1,000 tracked jobs with wrk on loopback, against
//     GET /healthz in the same run, counting the ResourceManager requests the gateway makes meanwhile;
//   - (spnego, Kerberized cluster only) the cost of SPNEGO per ResourceManager call: the same call with the
//     hadoop.auth cookie reused (what the gateway does), with a fresh negotiation, and after a 401 challenge,
//     against the RM's refusal of a request without credentials, interleaved in the same run.
//
// Run it from the repository root with the test cluster's environment (`make bench` does both):
//
//	source testenv/.run/cluster.env && go run ./cmd/yarngate-bench
//
// On a Kerberized cluster (cluster.env says YARNGATE_KERBEROS=1) every gateway it starts gets the cluster's
// principal, keytab and krb5.conf (YARNGATE_PRINCIPAL, YARNGATE_KEYTAB, YARNGATE_KRB5_CONF), as `make run`
// does; Flink's CLI logs in from the same keytab (the gateway's jobs run as its principal, so that is the fair
// baseline), and the benchmark itself logs in from it too, for its ResourceManager and HDFS calls.
//
// It prints a table and, last, one JSON line with every figure.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/jarfile/jartest"
)

// results is the JSON summary.
type results struct {
	JarBytes          int64           `json:"jarBytes"`
	GatewaySeconds    []float64       `json:"gatewaySeconds"`
	GatewayMiBps      float64         `json:"gatewayMiBps"`
	BaselineSeconds   []float64       `json:"baselineSeconds,omitempty"`
	BaselineMiBps     float64         `json:"baselineMiBps,omitempty"`
	ThroughputRatio   float64         `json:"throughputRatio,omitempty"`
	RSSJarBytes       int64           `json:"rssJarBytes"`
	PeakRSSMiB        float64         `json:"peakRssMiB"`
	RSSUploadSeconds  float64         `json:"rssUploadSeconds"`
	ThroughputTarget  float64         `json:"throughputTarget"`
	PeakRSSTargetMiB  float64         `json:"peakRssTargetMiB"`
	BaselineAvailable bool            `json:"baselineAvailable"`
	Jobs              *jobResults     `json:"jobs,omitempty"`
	Sessions          *sessionResults `json:"sessions,omitempty"`
	Reads             *readResults    `json:"reads,omitempty"`
	SPNEGO            *spnegoResults  `json:"spnego,omitempty"`
	Kerberos          bool            `json:"kerberos"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "yarngate-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		binary      = flag.String("yarngate", "", "gateway binary (default: build ./cmd/yarngate into the work dir)")
		sizeFlag    = flag.String("size", "256MiB", "jar size for the throughput runs")
		rssFlag     = flag.String("rss-size", "1GiB", "jar size for the peak-RSS run")
		runs        = flag.Int("runs", 7, "throughput runs of each side (the medians count)")
		workDir     = flag.String("work-dir", filepath.Join(os.TempDir(), "yarngate-bench"), "directory for jars and the binary")
		baseline    = flag.Bool("baseline", true, "also measure Hadoop's own client (needs JAVA_HOME and HADOOP_CLASSPATH)")
		suites      = flag.String("suites", "upload,jobs,sessions,reads,spnego", "comma-separated suites to run: upload, jobs, sessions, reads, spnego")
		readJobs    = flag.Int("read-jobs", 1000, "tracked jobs in the reads suite")
		readTime    = flag.Duration("read-duration", 20*time.Second, "length of each wrk run in the reads suite")
		jobRuns     = flag.Int("job-runs", 3, "job submissions of each side in the jobs suite")
		sessionJobs = flag.Int("session-jobs", 20, "jobs of each side in the sessions suite")
		spnegoCalls = flag.Int("spnego-calls", 400, "ResourceManager calls of each kind in the spnego suite")
	)
	flag.Parse()
	want := map[string]bool{}
	for _, name := range strings.Split(*suites, ",") {
		switch name = strings.TrimSpace(name); name {
		case "upload", "jobs", "sessions", "reads", "spnego":
			want[name] = true
		default:
			return fmt.Errorf("unknown suite %q (upload, jobs, sessions, reads, spnego)", name)
		}
	}
	size, err := config.ParseByteSize(*sizeFlag)
	if err != nil {
		return err
	}
	rssSize, err := config.ParseByteSize(*rssFlag)
	if err != nil {
		return err
	}
	env, err := clusterEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		return err
	}
	// On a Kerberized cluster the benchmark logs in first: its own ResourceManager and HDFS calls need a
	// ticket. The login outlives every suite and the clean-up below.
	stopLogin, err := env.logIn(ctx)
	if err != nil {
		return err
	}
	defer stopLogin()
	if *binary == "" {
		if *binary, err = buildGateway(ctx, *workDir); err != nil {
			return err
		}
	}
	hdfsRoot := fmt.Sprintf("/user/%s/bench-%d", env.user, time.Now().UnixNano())
	defer removeHDFSRoot(env, hdfsRoot)

	res := results{ThroughputTarget: 0.9, PeakRSSTargetMiB: 64, Kerberos: env.kerberos}
	if env.kerberos {
		fmt.Printf("Kerberized cluster: gateways and Flink's CLI log in as %s from its keytab\n", env.principal)
	}
	if want["upload"] {
		if err := uploadSuite(ctx, &res, *binary, env, *workDir, hdfsRoot, int64(size), int64(rssSize), *runs, *baseline); err != nil {
			return err
		}
	}
	if want["jobs"] {
		jr, err := runJobsSuite(ctx, *binary, env, hdfsRoot, *jobRuns)
		if err != nil {
			return err
		}
		res.Jobs = jr
	}
	if want["sessions"] {
		sr, err := runSessionsSuite(ctx, *binary, env, hdfsRoot, *sessionJobs)
		if err != nil {
			return err
		}
		res.Sessions = sr
	}
	if want["reads"] {
		rr, err := runReadsSuite(ctx, *binary, env, *workDir, hdfsRoot, *readJobs, *readTime)
		if err != nil {
			return err
		}
		res.Reads = rr
	}
	if want["spnego"] {
		if !env.kerberos {
			fmt.Println("spnego: skipped, the cluster is not Kerberized (make cluster-up KERBEROS=1)")
		} else {
			sr, err := runSPNEGOSuite(ctx, env, *spnegoCalls)
			if err != nil {
				return err
			}
			res.SPNEGO = sr
		}
	}
	fmt.Println()
	if env.kerberos {
		fmt.Printf("Kerberized cluster: the gateways, Flink's CLI and Hadoop's client all log in as %s from its keytab\n", env.principal)
	}
	if want["upload"] {
		printUpload(res)
	}
	if res.Jobs != nil {
		printJobs(res.Jobs)
	}
	if s := res.Sessions; s != nil {
		fmt.Printf("submission into a warm session, POST to Flink job RUNNING, median of %d:\n", s.Jobs)
		fmt.Printf("  gateway %5.2fs   flink run -t yarn-session %5.2fs   ratio %.2f\n", median(s.GatewaySeconds), median(s.CLISeconds), s.Ratio)
	}
	if res.Reads != nil {
		printReads(res.Reads)
	}
	if res.SPNEGO != nil {
		printSPNEGO(res.SPNEGO)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return nil
}

// uploadSuite measures upload throughput against Hadoop's own client and the gateway's peak RSS.
func uploadSuite(ctx context.Context, res *results, binary string, env cluster, workDir, hdfsRoot string,
	size, rssSize int64, runs int, baseline bool) error {
	jar, err := writeJar(workDir, "throughput.jar", size, 1)
	if err != nil {
		return err
	}
	defer os.Remove(jar.path)
	res.JarBytes = jar.size

	var pb *putBench
	if baseline {
		if pb, err = newPutBench(ctx, env, workDir); err != nil {
			fmt.Printf("Hadoop client baseline unavailable: %v\n", err)
		}
	}
	res.BaselineAvailable = pb != nil
	gw, err := startGateway(ctx, binary, env, hdfsRoot+"/gateway")
	if err != nil {
		return err
	}
	// Runs alternate between the gateway and the Hadoop client, so that load from elsewhere on the
	// machine affects both alike.
	fmt.Printf("%.0f MiB jar, %d runs: gateway (POST /v1/jars) vs Hadoop client (FileSystem.create + copyBytes)\n",
		float64(jar.size)/(1<<20), runs)
	for i := range runs {
		d, err := gw.upload(ctx, jar)
		if err != nil {
			gw.stop()
			return fmt.Errorf("gateway run %d: %w", i+1, err)
		}
		res.GatewaySeconds = append(res.GatewaySeconds, d.Seconds())
		line := fmt.Sprintf("  run %d: gateway %6.2fs %7.1f MiB/s", i+1, d.Seconds(), mibps(jar.size, d))
		if pb != nil {
			b, err := pb.put(ctx, jar.path, fmt.Sprintf("%s/baseline-%d.jar", hdfsRoot, i))
			if err != nil {
				gw.stop()
				return fmt.Errorf("baseline run %d: %w", i+1, err)
			}
			res.BaselineSeconds = append(res.BaselineSeconds, b.Seconds())
			line += fmt.Sprintf("   hadoop %6.2fs %7.1f MiB/s", b.Seconds(), mibps(jar.size, b))
		}
		fmt.Println(line)
	}
	if err := gw.stop(); err != nil {
		return err
	}
	res.GatewayMiBps = mibps(jar.size, seconds(median(res.GatewaySeconds)))
	if pb != nil {
		res.BaselineMiBps = mibps(jar.size, seconds(median(res.BaselineSeconds)))
		res.ThroughputRatio = res.GatewayMiBps / res.BaselineMiBps
	}

	big, err := writeJar(workDir, "rss.jar", rssSize, 2)
	if err != nil {
		return err
	}
	defer os.Remove(big.path)
	res.RSSJarBytes = big.size
	fmt.Printf("peak RSS of a fresh gateway during a %.0f MiB upload\n", float64(big.size)/(1<<20))
	gw, err = startGateway(ctx, binary, env, hdfsRoot+"/rss")
	if err != nil {
		return err
	}
	d, err := gw.upload(ctx, big)
	if err != nil {
		gw.stop()
		return fmt.Errorf("rss run: %w", err)
	}
	hwm, err := gw.peakRSS()
	if stopErr := gw.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	res.RSSUploadSeconds = d.Seconds()
	res.PeakRSSMiB = float64(hwm) / (1 << 20)
	fmt.Printf("  upload %6.2fs  %7.1f MiB/s  VmHWM %.1f MiB\n", d.Seconds(), mibps(big.size, d), res.PeakRSSMiB)

	return nil
}

func printUpload(res results) {
	fmt.Printf("gateway throughput (median)   %8.1f MiB/s\n", res.GatewayMiBps)
	if res.BaselineAvailable {
		fmt.Printf("Hadoop client (median)        %8.1f MiB/s\n", res.BaselineMiBps)
		fmt.Printf("ratio gateway/Hadoop          %8.2f   (target >= %.1f)\n", res.ThroughputRatio, res.ThroughputTarget)
	}
	fmt.Printf("gateway peak RSS, 1 GiB jar   %8.1f MiB (target < %.0f MiB)\n", res.PeakRSSMiB, res.PeakRSSTargetMiB)
}

func printJobs(j *jobResults) {
	fmt.Printf("job submission, median of %d: gateway vs flink run-application, plain and with %s\n", j.Runs, providedLibDirsKey)
	fmt.Printf("  %-22s %10s %10s %18s %8s %16s\n", "", "gateway", "flink CLI", "CLI+provided libs", "gw/CLI", "gw/CLI+provided")
	fmt.Printf("  %-22s %9.2fs %9.2fs %17.2fs %8.2f %16.2f\n", "to YARN ACCEPTED",
		median(j.GatewayAccepted), median(j.CLIAccepted), median(j.CLILibsAccepted), j.AcceptedRatio, j.AcceptedRatioLibs)
	fmt.Printf("  %-22s %9.2fs %9.2fs %17.2fs %8.2f %16.2f\n", "to Flink job RUNNING",
		median(j.GatewayRunning), median(j.CLIRunning), median(j.CLILibsRunning), j.RunningRatio, j.RunningRatioLibs)
	fmt.Printf("  %-22s %9.3fs %9.2fs %17.2fs   (mean)\n", "CPU per submission",
		j.GatewayCPUPerSubmit, j.CLICPUPerSubmit, j.CLILibsCPUPerSubmit)
	fmt.Printf("  %-22s %10s %10s %18s\n", "HDFS bytes staged", byteSize(j.GatewayStaged), byteSize(j.CLIStaged), byteSize(j.CLILibsStaged))
	fmt.Printf("  %s=%s\n", providedLibDirsKey, j.ProvidedLibDirs)
}

// byteSize formats a byte count with a binary unit ("?" for a negative, unknown count).
func byteSize(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// jarFile is a generated jar on local disk.
type jarFile struct {
	path string
	size int64
}

// writeJar writes a valid jar of about payload bytes.
func writeJar(dir, name string, payload int64, seed uint64) (jarFile, error) {
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		return jarFile{}, err
	}
	n, err := jartest.Write(f, jartest.Options{MainClass: "com.example.Bench", PayloadSize: payload, Seed: seed ^ uint64(time.Now().UnixNano())})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return jarFile{}, fmt.Errorf("write %s: %w", p, err)
	}
	return jarFile{path: p, size: n}, nil
}

func mibps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / (1 << 20) / d.Seconds()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
