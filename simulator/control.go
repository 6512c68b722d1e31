package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxAddBatch bounds the applications one control request adds.
const maxAddBatch = 100_000

// endpoints is what GET /endpoints answers: where the simulated ResourceManager and JobManagers listen.
type endpoints struct {
	RM string `json:"rm"` // the ResourceManager's web address
	JM string `json:"jm"` // host:port of the JobManagers' listener
}

// addRequest is the body of POST /apps: count applications alike.
type addRequest struct {
	Spec  AppSpec `json:"spec"`
	Count int     `json:"count"`
}

// stateRequest is the body of the state and behavior routes.
type stateRequest struct {
	State    string   `json:"state,omitempty"`
	Behavior Behavior `json:"behavior,omitempty"`
}

// ControlHandler serves the simulator's control API, so that a process other than the simulator's can
// drive it (Remote): a benchmark whose gateway side must not share the simulator's process, its open files
// (both ends of every JobManager connection) and its heap. Routes, JSON bodies:
//
//	GET  /endpoints                      {"rm": URL, "jm": host:port}
//	POST /apps                           {"spec": AppSpec, "count": n} → {"ids": [...]}
//	GET  /apps/{id}                      App (404 unknown)
//	PUT  /apps/{id}/state                {"state": "FINISHED"}
//	PUT  /apps/{id}/behavior             {"behavior": 1}
//	PUT  /apps/{id}/jobs/{job}/state     {"state": "RESTARTING"}
//	GET  /calls                          Calls
func (s *Simulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /endpoints", func(w http.ResponseWriter, _ *http.Request) {
		writeControl(w, endpoints{RM: s.RMURL(), JM: s.jmAddr}, nil)
	})
	mux.HandleFunc("POST /apps", func(w http.ResponseWriter, r *http.Request) {
		var req addRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Count < 1 || req.Count > maxAddBatch {
			http.Error(w, fmt.Sprintf("want {spec, count 1..%d}", maxAddBatch), http.StatusBadRequest)
			return
		}
		ids := make([]string, 0, req.Count)
		s.mu.Lock()
		for range req.Count {
			ids = append(ids, s.addLocked(req.Spec))
		}
		s.mu.Unlock()
		writeControl(w, map[string][]string{"ids": ids}, nil)
	})
	mux.HandleFunc("GET /apps/{id}", func(w http.ResponseWriter, r *http.Request) {
		app, ok := s.App(r.PathValue("id"))
		if !ok {
			writeControl(w, nil, ErrUnknown)
			return
		}
		writeControl(w, app, nil)
	})
	mux.HandleFunc("PUT /apps/{id}/state", func(w http.ResponseWriter, r *http.Request) {
		if req, ok := readState(w, r); ok {
			writeControl(w, nil, s.SetAppState(r.PathValue("id"), req.State))
		}
	})
	mux.HandleFunc("PUT /apps/{id}/behavior", func(w http.ResponseWriter, r *http.Request) {
		if req, ok := readState(w, r); ok {
			writeControl(w, nil, s.SetBehavior(r.PathValue("id"), req.Behavior))
		}
	})
	mux.HandleFunc("PUT /apps/{id}/jobs/{job}/state", func(w http.ResponseWriter, r *http.Request) {
		if req, ok := readState(w, r); ok {
			writeControl(w, nil, s.SetJobState(r.PathValue("id"), r.PathValue("job"), req.State))
		}
	})
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, s.Calls(), nil) })
	return mux
}

func readState(w http.ResponseWriter, r *http.Request) (stateRequest, bool) {
	var req stateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return req, false
	}
	return req, true
}

// writeControl answers v as JSON, 404 for ErrUnknown, 500 for another error.
func writeControl(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, ErrUnknown):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case v == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// Remote drives a simulator in another process through its ControlHandler; its methods are the
// Simulator's.
type Remote struct {
	base  string
	hc    *http.Client
	rmURL string
	jm    string
}

// Connect returns a Remote for the control API at base (such as http://127.0.0.1:1234).
func Connect(ctx context.Context, base string) (*Remote, error) {
	r := &Remote{base: base, hc: &http.Client{Timeout: time.Minute}}
	var ep endpoints
	if err := r.do(ctx, http.MethodGet, "/endpoints", nil, &ep); err != nil {
		return nil, err
	}
	r.rmURL, r.jm = ep.RM, ep.JM
	return r, nil
}

// RMURL is the ResourceManager's web address.
func (r *Remote) RMURL() string { return r.rmURL }

// Dial connects to the JobManagers' listener whatever address is asked for, as Simulator.Dial.
func (r *Remote) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, r.jm)
}

// AddApps adds n applications of one spec and returns their ids.
func (r *Remote) AddApps(ctx context.Context, spec AppSpec, n int) ([]string, error) {
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := r.do(ctx, http.MethodPost, "/apps", addRequest{Spec: spec, Count: n}, &out); err != nil {
		return nil, err
	}
	return out.IDs, nil
}

// App returns an application (false when unknown or on error).
func (r *Remote) App(ctx context.Context, id string) (App, bool) {
	var app App
	err := r.do(ctx, http.MethodGet, "/apps/"+url.PathEscape(id), nil, &app)
	return app, err == nil
}

// SetAppState is Simulator.SetAppState.
func (r *Remote) SetAppState(ctx context.Context, id, state string) error {
	return r.do(ctx, http.MethodPut, "/apps/"+url.PathEscape(id)+"/state", stateRequest{State: state}, nil)
}

// SetJobState is Simulator.SetJobState.
func (r *Remote) SetJobState(ctx context.Context, appID, jobID, state string) error {
	return r.do(ctx, http.MethodPut, "/apps/"+url.PathEscape(appID)+"/jobs/"+url.PathEscape(jobID)+"/state",
		stateRequest{State: state}, nil)
}

// SetBehavior is Simulator.SetBehavior.
func (r *Remote) SetBehavior(ctx context.Context, appID string, b Behavior) error {
	return r.do(ctx, http.MethodPut, "/apps/"+url.PathEscape(appID)+"/behavior", stateRequest{Behavior: b}, nil)
}

// Calls is Simulator.Calls.
func (r *Remote) Calls(ctx context.Context) (Calls, error) {
	var c Calls
	err := r.do(ctx, http.MethodGet, "/calls", nil, &c)
	return c, err
}

// do sends one control request with body (JSON, when not nil) and decodes its answer into out (when not nil).
func (r *Remote) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ErrUnknown
	case resp.StatusCode >= 300:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("simulator control %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	case out != nil:
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("simulator control %s %s: %w", method, path, err)
		}
	}
	return nil
}
