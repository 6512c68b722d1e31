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
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The jobs suite: time from submission to YARN ACCEPTED and to the Flink job RUNNING, for the gateway
// (POST /v1/jobs) and for Flink's own CLI (flink run-application -t yarn-application) on the same cluster,
// alternating, each measured by the same prober: the ResourceManager's report every 100 ms until the
// application is ACCEPTED, then the JobManager's REST API until a job is RUNNING. It also reports the CPU
// time each side spends on one submission.

// jobResults is the jobs suite's part of the JSON summary.
type jobResults struct {
	Runs                int       `json:"runs"`
	GatewayAccepted     []float64 `json:"gatewayAcceptedSeconds"`
	GatewayRunning      []float64 `json:"gatewayRunningSeconds"`
	CLIAccepted         []float64 `json:"cliAcceptedSeconds"`
	CLIRunning          []float64 `json:"cliRunningSeconds"`
	AcceptedRatio       float64   `json:"acceptedRatio"`
	RunningRatio        float64   `json:"runningRatio"`
	GatewayCPUPerSubmit float64   `json:"gatewayCpuSecondsPerSubmission"`
	CLICPUPerSubmit     float64   `json:"cliCpuSecondsPerSubmission"`
}

// submitTimes are the prober's findings for one submission.
type submitTimes struct {
	appID    string
	accepted time.Duration
	running  time.Duration
	cpu      time.Duration
}

func runJobsSuite(ctx context.Context, binary string, env cluster, hdfsRoot string, runs int) (*jobResults, error) {
	flinkHome, jar := os.Getenv("YARNGATE_FLINK_HOME"), os.Getenv("YARNGATE_EXAMPLE_JAR")
	rmURL := os.Getenv("YARNGATE_RM_URL")
	if flinkHome == "" || jar == "" || rmURL == "" {
		return nil, errors.New("YARNGATE_FLINK_HOME, YARNGATE_EXAMPLE_JAR and YARNGATE_RM_URL must be set (source testenv/.run/cluster.env)")
	}
	gw, err := startGateway(ctx, binary, env, hdfsRoot+"/jobs",
		"YARNGATE_FLINK_HOMES="+flinkHome, "YARNGATE_FLINK_DEFAULT_VERSION=1.20",
		"YARNGATE_JOBS_JOB_MANAGER_MEMORY=1024m", "YARNGATE_JOBS_TASK_MANAGER_MEMORY=1024m",
		"YARNGATE_FLINK_LIB_ROOT="+hdfsRoot+"/flink")
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	jarID, err := gw.uploadFile(ctx, jar)
	if err != nil {
		return nil, err
	}
	p := &prober{rm: strings.TrimRight(rmURL, "/"), user: env.user}

	// A first launch uploads the Flink distribution to HDFS once; it is not measured.
	fmt.Println("jobs: warm-up launch (uploads Flink's lib/ to HDFS once)")
	if _, err := gw.timeSubmission(ctx, p, jarID, "bench-warmup"); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	res := &jobResults{Runs: runs}
	var gwCPU, cliCPU time.Duration
	fmt.Printf("jobs: %d runs, POST /v1/jobs vs flink run-application -t yarn-application (unbounded example job)\n", runs)
	for i := range runs {
		g, err := gw.timeSubmission(ctx, p, jarID, fmt.Sprintf("bench-gw-%d", i))
		if err != nil {
			return nil, fmt.Errorf("gateway run %d: %w", i+1, err)
		}
		c, err := cliSubmission(ctx, p, env, flinkHome, jar, fmt.Sprintf("bench-cli-%d-%d", i, time.Now().UnixNano()))
		if err != nil {
			return nil, fmt.Errorf("CLI run %d: %w", i+1, err)
		}
		res.GatewayAccepted = append(res.GatewayAccepted, g.accepted.Seconds())
		res.GatewayRunning = append(res.GatewayRunning, g.running.Seconds())
		res.CLIAccepted = append(res.CLIAccepted, c.accepted.Seconds())
		res.CLIRunning = append(res.CLIRunning, c.running.Seconds())
		gwCPU += g.cpu
		cliCPU += c.cpu
		fmt.Printf("  run %d: gateway accepted %5.2fs running %6.2fs cpu %5.3fs | flink CLI accepted %5.2fs running %6.2fs cpu %5.2fs\n",
			i+1, g.accepted.Seconds(), g.running.Seconds(), g.cpu.Seconds(), c.accepted.Seconds(), c.running.Seconds(), c.cpu.Seconds())
	}
	res.AcceptedRatio = median(res.GatewayAccepted) / median(res.CLIAccepted)
	res.RunningRatio = median(res.GatewayRunning) / median(res.CLIRunning)
	res.GatewayCPUPerSubmit = gwCPU.Seconds() / float64(runs)
	res.CLICPUPerSubmit = cliCPU.Seconds() / float64(runs)
	return res, nil
}

// timeSubmission launches the unbounded example through the gateway, times it with the prober, and kills it.
func (g *gatewayProc) timeSubmission(ctx context.Context, p *prober, jarID, name string) (submitTimes, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "jarId": jarID, "args": []string{"--mode", "unbounded"}})
	cpu0, err := processCPU(g.cmd.Process.Pid)
	if err != nil {
		return submitTimes{}, err
	}
	start := time.Now()
	resp, err := http.Post(g.url+"/v1/jobs", "application/json", bytes.NewReader(body))
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
	p.kill(job.ID)
	t.cpu = cpu1 - cpu0
	return t, err
}

var submittedRE = regexp.MustCompile(`Submitted application (application_\d+_\d+)`)

// cliSubmission launches the same job with Flink's own CLI and times it the same way.
func cliSubmission(ctx context.Context, p *prober, env cluster, flinkHome, jar, name string) (submitTimes, error) {
	out := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, filepath.Join(flinkHome, "bin", "flink"), "run-application", "-t", "yarn-application",
		"-Djobmanager.memory.process.size=1024m", "-Dtaskmanager.memory.process.size=1024m",
		"-Dtaskmanager.numberOfTaskSlots=1", "-Dyarn.application.name="+name, jar, "--mode", "unbounded")
	cmd.Env = append(os.Environ(), "HADOOP_USER_NAME="+env.user)
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
	cliErr := <-done // the CLI returns once the cluster is deployed
	p.kill(t.appID)
	if err == nil && cliErr != nil {
		err = fmt.Errorf("flink CLI: %v\n%s", cliErr, lastLines(out.String(), 20))
	}
	if cmd.ProcessState != nil {
		t.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return t, err
}

// prober watches one application from the outside.
type prober struct {
	rm, user string
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
		if err := p.getJSON(ctx, p.rm+"/ws/v1/cluster/apps/"+t.appID, &app); err != nil {
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
		if err := p.getJSON(ctx, "http://"+app.App.AMRPCAddress+"/jobs/overview", &jobs); err == nil {
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
	if err := p.getJSON(ctx, p.rm+"/ws/v1/cluster/apps?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING", &list); err != nil || list.Apps == nil {
		return "", err
	}
	for _, a := range list.Apps.App {
		if a.Name == name {
			return a.ID, nil
		}
	}
	return "", nil
}

// kill ends an application through the ResourceManager (best effort).
func (p *prober) kill(appID string) {
	if appID == "" {
		return
	}
	req, _ := http.NewRequest(http.MethodPut, p.rm+"/ws/v1/cluster/apps/"+appID+"/state?user.name="+url.QueryEscape(p.user),
		strings.NewReader(`{"state":"KILLED"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

func (p *prober) getJSON(ctx context.Context, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
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
