package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The sessions suite: submission latency into a warm session, from the start of a submission until the
// session's JobManager reports the new job RUNNING, for the gateway (POST /v1/jobs, target session) and
// for Flink's own CLI (flink run -t yarn-session -Dyarn.application.id=<session>), alternating, into the
// same session. Each job is cancelled once RUNNING, so the session's slots never run out.

// sessionResults is the sessions suite's part of the JSON summary.
type sessionResults struct {
	Jobs           int       `json:"jobs"`
	GatewaySeconds []float64 `json:"gatewaySeconds"`
	CLISeconds     []float64 `json:"cliSeconds"`
	Ratio          float64   `json:"ratio"`
}

func runSessionsSuite(ctx context.Context, binary string, env cluster, hdfsRoot string, jobs int) (*sessionResults, error) {
	flinkHome, jar := os.Getenv("YARNGATE_FLINK_HOME"), os.Getenv("YARNGATE_EXAMPLE_JAR")
	if flinkHome == "" || jar == "" {
		return nil, errors.New("YARNGATE_FLINK_HOME and YARNGATE_EXAMPLE_JAR must be set (source testenv/.run/cluster.env)")
	}
	gw, err := startGateway(ctx, binary, env, hdfsRoot+"/sessions",
		"YARNGATE_FLINK_HOMES="+flinkHome, "YARNGATE_FLINK_DEFAULT_VERSION=1.20",
		"YARNGATE_FLINK_LIB_ROOT="+hdfsRoot+"/flink")
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	jarID, err := gw.uploadFile(ctx, jar)
	if err != nil {
		return nil, err
	}
	var session struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Links struct {
			JobManager *string `json:"jobManager"`
		} `json:"links"`
	}
	if err := gw.postJSON(ctx, "/v1/sessions", map[string]any{"name": "bench-session",
		"jobManager": map[string]any{"memory": "1024m"}, "taskManager": map[string]any{"memory": "1024m", "slots": 2}},
		&session); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	defer gw.request(context.WithoutCancel(ctx), http.MethodDelete, "/v1/sessions/"+session.ID, nil, nil)
	if err := gw.request(ctx, http.MethodGet, "/v1/sessions/"+session.ID+"?wait=RUNNING&timeout=180s", nil, &session); err != nil {
		return nil, err
	}
	if session.State != "RUNNING" || session.Links.JobManager == nil {
		return nil, fmt.Errorf("session %s is %s", session.ID, session.State)
	}
	jm := &jmProbe{base: *session.Links.JobManager}
	fmt.Printf("sessions: session %s RUNNING; %d jobs each, gateway vs flink run -t yarn-session (warm session)\n", session.ID, jobs)

	submitGateway := func() (time.Duration, error) {
		start := time.Now()
		var job struct {
			Flink struct {
				JobID string `json:"jobId"`
			} `json:"flink"`
		}
		err := gw.postJSON(ctx, "/v1/jobs", map[string]any{"name": "bench-session-job", "target": "session",
			"sessionId": session.ID, "jarId": jarID, "args": []string{"--mode", "unbounded"}}, &job)
		if err != nil {
			return 0, err
		}
		return jm.runningThenCancel(ctx, job.Flink.JobID, start)
	}
	submitCLI := func() (time.Duration, error) {
		return cliSessionSubmission(ctx, jm, env, flinkHome, jar, session.ID)
	}
	// Warm-up: the first gateway job uploads the jar to the JobManager; the first CLI run warms caches.
	for _, f := range []func() (time.Duration, error){submitGateway, submitCLI} {
		if _, err := f(); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	res := &sessionResults{Jobs: jobs}
	for i := range jobs {
		g, err := submitGateway()
		if err != nil {
			return nil, fmt.Errorf("gateway job %d: %w", i+1, err)
		}
		c, err := submitCLI()
		if err != nil {
			return nil, fmt.Errorf("CLI job %d: %w", i+1, err)
		}
		res.GatewaySeconds = append(res.GatewaySeconds, g.Seconds())
		res.CLISeconds = append(res.CLISeconds, c.Seconds())
		fmt.Printf("  job %2d: gateway %5.2fs   flink CLI %5.2fs\n", i+1, g.Seconds(), c.Seconds())
	}
	res.Ratio = median(res.GatewaySeconds) / median(res.CLISeconds)
	return res, nil
}

var cliJobIDRE = regexp.MustCompile(`Job has been submitted with JobID ([0-9a-f]{32})`)

// cliSessionSubmission submits the unbounded example into the session with Flink's CLI (detached) and
// returns the time until the JobManager runs it.
func cliSessionSubmission(ctx context.Context, jm *jmProbe, env cluster, flinkHome, jar, appID string) (time.Duration, error) {
	out := &lockedBuffer{}
	props, secEnv := env.flinkCLISecurity()
	args := append([]string{"run", "-d", "-t", "yarn-session", "-Dyarn.application.id=" + appID}, props...)
	cmd := exec.CommandContext(ctx, filepath.Join(flinkHome, "bin", "flink"), append(args, jar, "--mode", "unbounded")...)
	cmd.Env = append(os.Environ(), secEnv...)
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("flink CLI: %v\n%s", err, lastLines(out.String(), 20))
	}
	m := cliJobIDRE.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("no job id in the CLI output:\n%s", lastLines(out.String(), 20))
	}
	return jm.runningThenCancel(ctx, m[1], start)
}

// jmProbe watches jobs on one JobManager.
type jmProbe struct{ base string }

// runningThenCancel polls the job until RUNNING, returns the time since start, and cancels the job,
// waiting until it has let go of its slot.
func (p *jmProbe) runningThenCancel(ctx context.Context, jobID string, start time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var elapsed time.Duration
	for elapsed == 0 {
		var d struct {
			State string `json:"state"`
		}
		if err := getJSON(ctx, http.DefaultClient, p.base+"/jobs/"+jobID, &d); err == nil {
			switch d.State {
			case "RUNNING":
				elapsed = time.Since(start)
			case "FAILED", "CANCELED", "FINISHED":
				return 0, fmt.Errorf("job %s ended %s", jobID, d.State)
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("job %s: %w", jobID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, p.base+"/jobs/"+jobID+"?mode=cancel", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	for {
		var d struct {
			State string `json:"state"`
		}
		if err := getJSON(ctx, http.DefaultClient, p.base+"/jobs/"+jobID, &d); err == nil && d.State == "CANCELED" {
			return elapsed, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cancel %s: %w", jobID, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// postJSON sends a JSON body and decodes a 2xx answer into out.
func (g *gatewayProc) postJSON(ctx context.Context, path string, body, out any) error {
	return g.request(ctx, http.MethodPost, path, body, out)
}

// request calls the gateway; a non-2xx answer is an error carrying the body.
func (g *gatewayProc) request(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s = %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
