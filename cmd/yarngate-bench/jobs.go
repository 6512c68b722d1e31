package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hadoopconf"
)

// The jobs suite: time from submission to YARN ACCEPTED and to the Flink job RUNNING, for the gateway
// (POST /v1/jobs) and for Flink's own CLI (flink run-application -t yarn-application) on the same cluster,
// the CLI twice: as it comes, shipping flink-dist, lib/ and plugins/ from FLINK_HOME with every submission,
// and in its fastest set-up, with yarn.provided.lib.dirs pointing at the distribution the gateway uploaded
// to HDFS, so that it ships only the application jar, its configuration and the log configuration. The
// three alternate, each measured by the same prober: the ResourceManager's report every 100 ms until the
// application is ACCEPTED, then the JobManager's REST API until a job is RUNNING. It also reports the CPU
// time each side spends on one submission and the bytes each writes to HDFS for it.

// jobResults is the jobs suite's part of the JSON summary. The CLI figures are those of the plain CLI;
// CLILibs* those of the CLI with yarn.provided.lib.dirs.
type jobResults struct {
	Runs                int       `json:"runs"`
	GatewayAccepted     []float64 `json:"gatewayAcceptedSeconds"`
	GatewayRunning      []float64 `json:"gatewayRunningSeconds"`
	CLIAccepted         []float64 `json:"cliAcceptedSeconds"`
	CLIRunning          []float64 `json:"cliRunningSeconds"`
	CLILibsAccepted     []float64 `json:"cliProvidedLibsAcceptedSeconds"`
	CLILibsRunning      []float64 `json:"cliProvidedLibsRunningSeconds"`
	AcceptedRatio       float64   `json:"acceptedRatio"`
	RunningRatio        float64   `json:"runningRatio"`
	AcceptedRatioLibs   float64   `json:"acceptedRatioProvidedLibs"`
	RunningRatioLibs    float64   `json:"runningRatioProvidedLibs"`
	GatewayCPUPerSubmit float64   `json:"gatewayCpuSecondsPerSubmission"`
	CLICPUPerSubmit     float64   `json:"cliCpuSecondsPerSubmission"`
	CLILibsCPUPerSubmit float64   `json:"cliProvidedLibsCpuSecondsPerSubmission"`
	// The *Staged figures are the bytes in each launch's HDFS upload directory, medians (-1: unknown).
	GatewayStaged   int64  `json:"gatewayStagedBytesPerSubmission"`
	CLIStaged       int64  `json:"cliStagedBytesPerSubmission"`
	CLILibsStaged   int64  `json:"cliProvidedLibsStagedBytesPerSubmission"`
	ProvidedLibDirs string `json:"providedLibDirs"`
}

// submitTimes are the prober's findings for one submission.
type submitTimes struct {
	appID    string
	accepted time.Duration
	running  time.Duration
	cpu      time.Duration
	staged   int64 // bytes in the launch's HDFS upload directory once it was deployed
}

// runJobsSuite starts a gateway, launches once to warm it up (that launch uploads the distribution), then
// times runs submissions of each contender, alternating.
func runJobsSuite(ctx context.Context, binary string, env cluster, hdfsRoot string, runs int) (*jobResults, error) {
	flinkHome, jar := os.Getenv("YARNGATE_FLINK_HOME"), os.Getenv("YARNGATE_EXAMPLE_JAR")
	rmURL := os.Getenv("YARNGATE_RM_URL")
	if flinkHome == "" || jar == "" || rmURL == "" {
		return nil, errors.New("YARNGATE_FLINK_HOME, YARNGATE_EXAMPLE_JAR and YARNGATE_RM_URL must be set (source testenv/.run/cluster.env)")
	}
	conf, err := hadoopconf.Load(env.hadoopConfDir)
	if err != nil {
		return nil, err
	}
	fs, err := hdfsClient(conf, env)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	stagingRoot, libRoot := hdfsRoot+"/jobs", hdfsRoot+"/flink"
	gw, err := startGateway(ctx, binary, env, stagingRoot,
		"YARNGATE_FLINK_HOMES="+flinkHome, "YARNGATE_FLINK_DEFAULT_VERSION=1.20",
		"YARNGATE_JOBS_JOB_MANAGER_MEMORY=1024m", "YARNGATE_JOBS_TASK_MANAGER_MEMORY=1024m",
		"YARNGATE_FLINK_LIB_ROOT="+libRoot)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	jarID, err := gw.uploadFile(ctx, jar)
	if err != nil {
		return nil, err
	}
	p := &prober{rm: strings.TrimRight(rmURL, "/"), rmClient: env.rm, user: env.user, kerberos: env.kerberos}

	// A first launch uploads the Flink distribution to HDFS once; it is not measured.
	fmt.Println("jobs: warm-up launch (uploads Flink's lib/ to HDFS once)")
	if _, err := gw.timeSubmission(ctx, p, fs, stagingRoot, jarID, "bench-warmup"); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	libDirs, err := providedLibDirs(fs, conf.DefaultFS(), flinkHome, libRoot)
	if err != nil {
		return nil, err
	}
	// Flink's client stages a launch in <home directory>/.flink/<application id> (YarnApplicationFileUploader).
	cliStaging := "/user/" + env.user + "/.flink"
	// On a Kerberized cluster the CLI logs in from the gateway's keytab: the gateway's jobs run as its principal.
	secProps, secEnv := env.flinkCLISecurity()
	cli := flinkCLI{home: flinkHome, jar: jar, env: secEnv, props: secProps, fs: fs, staging: cliStaging}
	cliLibs := cli
	cliLibs.props = append(slices.Clone(secProps), "-D"+providedLibDirsKey+"="+libDirs)

	gwc := &contender{label: "gateway", submit: func(ctx context.Context, run int) (submitTimes, error) {
		return gw.timeSubmission(ctx, p, fs, stagingRoot, jarID, fmt.Sprintf("bench-gw-%d", run))
	}}
	clic := &contender{label: "flink CLI", submit: func(ctx context.Context, run int) (submitTimes, error) {
		return cli.timeSubmission(ctx, p, fmt.Sprintf("bench-cli-%d-%d", run, time.Now().UnixNano()))
	}}
	libsc := &contender{label: "CLI+provided libs", submit: func(ctx context.Context, run int) (submitTimes, error) {
		return cliLibs.timeSubmission(ctx, p, fmt.Sprintf("bench-cli-libs-%d-%d", run, time.Now().UnixNano()))
	}}
	contenders := []*contender{gwc, clic, libsc}
	fmt.Printf("jobs: %d runs, POST /v1/jobs vs flink run-application -t yarn-application (unbounded example job),\n"+
		"  plain and with -D%s=%s\n", runs, providedLibDirsKey, libDirs)
	if env.kerberos {
		fmt.Printf("  Kerberized: the CLI with -Dsecurity.kerberos.login.keytab/.principal (%s) and krb5.conf shipped\n", env.principal)
	}
	for i := range runs {
		// Each run starts with the next contender, so that none always follows the same one.
		for k := range contenders {
			c := contenders[(i+k)%len(contenders)]
			t, err := c.submit(ctx, i)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", c.label, i+1, err)
			}
			c.times = append(c.times, t)
		}
		line := fmt.Sprintf("  run %d:", i+1)
		for k, c := range contenders {
			t := c.times[i]
			if k > 0 {
				line += " |"
			}
			line += fmt.Sprintf(" %s accepted %5.2fs running %6.2fs cpu %5.3fs", c.label, t.accepted.Seconds(), t.running.Seconds(), t.cpu.Seconds())
		}
		fmt.Println(line)
	}
	res := &jobResults{
		Runs:                runs,
		GatewayAccepted:     gwc.seconds(submitTimes.acceptedAfter),
		GatewayRunning:      gwc.seconds(submitTimes.runningAfter),
		CLIAccepted:         clic.seconds(submitTimes.acceptedAfter),
		CLIRunning:          clic.seconds(submitTimes.runningAfter),
		CLILibsAccepted:     libsc.seconds(submitTimes.acceptedAfter),
		CLILibsRunning:      libsc.seconds(submitTimes.runningAfter),
		GatewayCPUPerSubmit: gwc.meanCPU(),
		CLICPUPerSubmit:     clic.meanCPU(),
		CLILibsCPUPerSubmit: libsc.meanCPU(),
		GatewayStaged:       gwc.medianStaged(),
		CLIStaged:           clic.medianStaged(),
		CLILibsStaged:       libsc.medianStaged(),
		ProvidedLibDirs:     libDirs,
	}
	res.AcceptedRatio = median(res.GatewayAccepted) / median(res.CLIAccepted)
	res.RunningRatio = median(res.GatewayRunning) / median(res.CLIRunning)
	res.AcceptedRatioLibs = median(res.GatewayAccepted) / median(res.CLILibsAccepted)
	res.RunningRatioLibs = median(res.GatewayRunning) / median(res.CLILibsRunning)
	return res, nil
}

// contender is one way of launching the example job, with the prober's findings of each run.
type contender struct {
	label  string
	submit func(ctx context.Context, run int) (submitTimes, error)
	times  []submitTimes
}

// seconds returns one duration of every run, in seconds.
func (c *contender) seconds(of func(submitTimes) time.Duration) []float64 {
	out := make([]float64, len(c.times))
	for i, t := range c.times {
		out[i] = of(t).Seconds()
	}
	return out
}

// meanCPU returns the mean CPU time of a submission, in seconds.
func (c *contender) meanCPU() float64 {
	if len(c.times) == 0 {
		return 0
	}
	return mean(c.seconds(func(t submitTimes) time.Duration { return t.cpu }))
}

// medianStaged returns the median of the bytes staged per submission.
func (c *contender) medianStaged() int64 {
	staged := make([]float64, len(c.times))
	for i, t := range c.times {
		staged[i] = float64(t.staged)
	}
	return int64(median(staged))
}

// acceptedAfter and runningAfter give the prober's times as method expressions, for contender.seconds.
func (t submitTimes) acceptedAfter() time.Duration { return t.accepted }
func (t submitTimes) runningAfter() time.Duration  { return t.running }

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// providedLibDirsKey is Flink's YarnConfigOptions.PROVIDED_LIB_DIRS (Flink 1.11 and later, 2.x included).
const providedLibDirsKey = "yarn.provided.lib.dirs"

// providedLibDirs returns the yarn.provided.lib.dirs value that points Flink's CLI at the distribution the
// gateway uploaded for flinkHome under libRoot (flink.UploadDist's layout): the fully qualified lib/ and,
// when the distribution has plugins, plugins/. Flink keys each file relative to the parent of its provided
// directory (lib/..., plugins/...), as it does when it ships FLINK_HOME, and takes the flink-dist jar it
// finds there as the dist jar, so yarn.flink-dist-jar is not needed. It fails unless the upload is there
// with the local flink-dist jar's size: Flink skips a provided directory that does not exist with a warning
// and would then upload the whole distribution again, unnoticed.
func providedLibDirs(fs *gohdfs.Client, defaultFS, flinkHome, libRoot string) (string, error) {
	d, err := flink.OpenDist(flinkHome)
	if err != nil {
		return "", err
	}
	dir, err := d.UploadDir(libRoot)
	if err != nil {
		return "", err
	}
	local, err := os.Stat(filepath.Join(d.Home, filepath.FromSlash(d.DistJar)))
	if err != nil {
		return "", err
	}
	remote, err := fs.Stat(path.Join(dir, d.DistJar))
	if err != nil {
		return "", fmt.Errorf("the gateway's upload of Flink %s: %w", d.Version, err)
	}
	if remote.Size() != local.Size() {
		return "", fmt.Errorf("%s has %d bytes in HDFS, %d on local disk", path.Join(dir, d.DistJar), remote.Size(), local.Size())
	}
	dirs := []string{strings.TrimRight(defaultFS, "/") + path.Join(dir, "lib")}
	if slices.ContainsFunc(d.Files, func(f string) bool { return strings.HasPrefix(f, "plugins/") }) {
		dirs = append(dirs, strings.TrimRight(defaultFS, "/")+path.Join(dir, "plugins"))
	}
	return strings.Join(dirs, ";"), nil
}

// timeSubmission launches the unbounded example through the gateway, times it with the prober, and kills it.
func (g *gatewayProc) timeSubmission(ctx context.Context, p *prober, fs *gohdfs.Client, stagingRoot, jarID, name string) (submitTimes, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "jarId": jarID, "args": []string{"--mode", "unbounded"}})
	cpu0, err := processCPU(g.cmd.Process.Pid)
	if err != nil {
		return submitTimes{}, err
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url+"/v1/jobs", bytes.NewReader(body))
	if err != nil {
		return submitTimes{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return submitTimes{}, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cpu1, err := processCPU(g.cmd.Process.Pid)
	if err != nil {
		return submitTimes{}, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return submitTimes{}, fmt.Errorf("POST /v1/jobs = %d %s", resp.StatusCode, raw)
	}
	var job struct {
		ID string `json:"id"`
	}
	json.Unmarshal(raw, &job)
	t, err := p.follow(ctx, start, func(context.Context) (string, error) { return job.ID, nil })
	// The gateway stages a launch's files in <staging root>/.flink/<application id> and removes them
	// itself once the application has ended.
	t.staged = stagedBytes(fs, path.Join(stagingRoot, ".flink", job.ID))
	p.kill(job.ID)
	t.cpu = cpu1 - cpu0
	return t, err
}

var submittedRE = regexp.MustCompile(`Submitted application (application_\d+_\d+)`)

// flinkCLI launches the example job with Flink's own CLI, flink run-application -t yarn-application.
type flinkCLI struct {
	home string // FLINK_HOME
	jar  string // the application jar on local disk
	// env is added to the CLI's environment: HADOOP_USER_NAME, and JVM_ARGS on a Kerberized cluster.
	env []string
	// props are extra -D settings: the Kerberos login on a Kerberized cluster, yarn.provided.lib.dirs.
	props []string
	// fs and staging (Flink's <home directory>/.flink) measure and remove each launch's upload directory,
	// which a killed application leaves behind.
	fs      *gohdfs.Client
	staging string
}

// timeSubmission launches the same job as the gateway does and times it the same way.
func (c flinkCLI) timeSubmission(ctx context.Context, p *prober, name string) (submitTimes, error) {
	out := &lockedBuffer{}
	args := append([]string{"run-application", "-t", "yarn-application",
		"-Djobmanager.memory.process.size=1024m", "-Dtaskmanager.memory.process.size=1024m",
		"-Dtaskmanager.numberOfTaskSlots=1", "-Dyarn.application.name=" + name}, c.props...)
	args = append(args, c.jar, "--mode", "unbounded")
	cmd := exec.CommandContext(ctx, filepath.Join(c.home, "bin", "flink"), args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return submitTimes{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t, err := p.follow(ctx, start, func(context.Context) (string, error) {
		if m := submittedRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], nil
		}
		return p.findByName(ctx, name)
	})
	cliErr := <-done // the CLI returns once the cluster is deployed, its files uploaded
	if t.appID != "" {
		dir := path.Join(c.staging, t.appID)
		t.staged = stagedBytes(c.fs, dir)
		p.kill(t.appID)
		if rmErr := c.fs.RemoveAll(dir); rmErr != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", dir, rmErr)
		}
	}
	if err == nil && cliErr != nil {
		err = fmt.Errorf("flink CLI: %v\n%s", cliErr, lastLines(out.String(), 20))
	}
	if cmd.ProcessState != nil {
		t.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return t, err
}

// stagedBytes returns the bytes below dir in HDFS, or -1 when it cannot tell.
func stagedBytes(fs *gohdfs.Client, dir string) int64 {
	cs, err := fs.GetContentSummary(dir)
	if err != nil {
		return -1
	}
	return cs.Size()
}

// prober watches one application from the outside.
type prober struct {
	rm string // the ResourceManager's URL
	// rmClient makes the ResourceManager calls: SPNEGO on a Kerberized cluster (JobManagers are called
	// with Go's default client).
	rmClient *http.Client
	user     string // user.name of a kill on a simple cluster
	kerberos bool
}

// follow polls until the application is ACCEPTED (or later) and until its JobManager runs a job, measuring
// both from start. appID returns the application id once it is known ("" before).
func (p *prober) follow(ctx context.Context, start time.Time, appID func(context.Context) (string, error)) (submitTimes, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var t submitTimes
	for tick := time.NewTicker(100 * time.Millisecond); ; {
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("application %q: %w", t.appID, ctx.Err())
		case <-tick.C:
		}
		if t.appID == "" {
			t.appID, _ = appID(ctx)
			if t.appID == "" {
				continue
			}
		}
		var app struct {
			App struct {
				State        string `json:"state"`
				AMRPCAddress string `json:"amRPCAddress"`
				Diagnostics  string `json:"diagnostics"`
			} `json:"app"`
		}
		if err := getJSON(ctx, p.rmClient, p.rm+"/ws/v1/cluster/apps/"+t.appID, &app); err != nil {
			continue
		}
		switch app.App.State {
		case "FINISHED", "FAILED", "KILLED":
			return t, fmt.Errorf("%s ended %s: %s", t.appID, app.App.State, app.App.Diagnostics)
		case "ACCEPTED", "RUNNING":
			if t.accepted == 0 {
				t.accepted = time.Since(start)
			}
		}
		if app.App.State != "RUNNING" || app.App.AMRPCAddress == "" || app.App.AMRPCAddress == "N/A" {
			continue
		}
		var jobs struct {
			Jobs []struct {
				State string `json:"state"`
			} `json:"jobs"`
		}
		if err := getJSON(ctx, http.DefaultClient, "http://"+app.App.AMRPCAddress+"/jobs/overview", &jobs); err == nil {
			for _, j := range jobs.Jobs {
				if j.State == "RUNNING" {
					t.running = time.Since(start)
					return t, nil
				}
			}
		}
	}
}

// findByName returns the id of the application with this name, or "".
func (p *prober) findByName(ctx context.Context, name string) (string, error) {
	var list struct {
		Apps *struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"app"`
		} `json:"apps"`
	}
	if err := getJSON(ctx, p.rmClient, p.rm+"/ws/v1/cluster/apps?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING", &list); err != nil || list.Apps == nil {
		return "", err
	}
	for _, a := range list.Apps.App {
		if a.Name == name {
			return a.ID, nil
		}
	}
	return "", nil
}

// kill ends an application through the ResourceManager (best effort): as user.name on a simple cluster,
// as the benchmark's principal (the applications' owner) on a Kerberized one.
func (p *prober) kill(appID string) {
	if appID == "" {
		return
	}
	u := p.rm + "/ws/v1/cluster/apps/" + appID + "/state"
	if !p.kerberos {
		u += "?user.name=" + url.QueryEscape(p.user)
	}
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(`{"state":"KILLED"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.rmClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kill %s: %v\n", appID, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		fmt.Fprintf(os.Stderr, "kill %s: %s\n", appID, resp.Status)
	}
}

// getJSON GETs u with hc and decodes a 200 answer into out.
func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// processCPU returns the user+system CPU time a process has used, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// uploadFile stages a local jar and returns its id.
func (g *gatewayProc) uploadFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url+"/v1/jars", f)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/java-archive")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var j struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil || j.ID == "" {
		return "", fmt.Errorf("upload %s: status %d", path, resp.StatusCode)
	}
	return j.ID, nil
}

// lockedBuffer collects a subprocess's output while another goroutine reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
