package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/yarngate/yarngate/simulator"
)

// runSimServer (-sim-serve) runs a simulator and its control API (simulator.ControlHandler) until its
// standard input closes (its parent ended), and prints the control API's address as its first line of
// standard output.
func runSimServer(rmLatency, jmLatency time.Duration) error {
	sim, err := simulator.New(simulator.Options{RMLatency: rmLatency, JobManagerLatency: jmLatency})
	if err != nil {
		return err
	}
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	fmt.Printf("http://%s\n", l.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// startSimProcess starts this program as a simulator process (-sim-serve) and connects to it; stop ends
// the process.
func startSimProcess(ctx context.Context, rmLatency, jmLatency time.Duration) (sim *simulator.Remote, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-sim-serve", "-sim-rm-latency", rmLatency.String(), "-sim-jm-latency", jmLatency.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("simulator process: %w", err)
	}
	stop = func() {
		stdin.Close() // the process ends when its standard input does
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("simulator process: no address: %w", err)
	}
	if sim, err = simulator.Connect(ctx, strings.TrimSpace(line)); err != nil {
		stop()
		return nil, nil, err
	}
	return sim, stop, nil
}
