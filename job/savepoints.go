package job

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// Errors of savepoints.
var (
	// ErrJobNotRunning: the job has no running Flink job to take a savepoint of (not started yet, ended, or an
	// application that may run several jobs).
	ErrJobNotRunning = errors.New("job not running")
	// ErrTriggerIDReused: a savepoint trigger id was used before with different parameters.
	ErrTriggerIDReused = errors.New("savepoint trigger id reused with different parameters")
)

// savepointTimeout bounds the JobManager call that triggers a savepoint or a stop.
const savepointTimeout = 15 * time.Second

// savepointOp is one savepoint to take: a trigger or a stop.
type savepointOp struct {
	triggerID, format, target string
	stop, drain               bool
}

// TriggerSavepoint takes a savepoint of a running job through its JobManager (the session's, for a session
// job) and records it IN_PROGRESS; the reconciler records its outcome. The same trigger id again returns the
// savepoint it started (created false) without asking Flink again.
func (s *Service) TriggerSavepoint(ctx context.Context, id string, req api.SavepointRequest) (api.Savepoint, bool, error) {
	return s.savepoint(ctx, id, "savepoint", savepointOp{triggerID: req.TriggerID, format: string(req.Format), target: req.TargetDirectory})
}

// Stop stops a running job with a savepoint (Flink's stop-with-savepoint, draining when asked): the job ends
// FINISHED once the savepoint is taken. The answer is the savepoint, IN_PROGRESS; the same trigger id again
// returns it.
func (s *Service) Stop(ctx context.Context, id string, req api.StopRequest) (api.Savepoint, bool, error) {
	if !req.Savepoint {
		return api.Savepoint{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "savepoint",
			Reason: "must be true: a stop takes a savepoint (POST /v1/jobs/{id}/cancel stops without one)"}}}
	}
	return s.savepoint(ctx, id, "stop", savepointOp{triggerID: req.TriggerID, format: string(req.Format),
		target: req.TargetDirectory, stop: true, drain: req.Drain})
}

// Savepoints lists a job's savepoints, newest first.
func (s *Service) Savepoints(ctx context.Context, id string) ([]api.Savepoint, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]api.Savepoint, 0, len(rec.Savepoints))
	for _, sp := range slices.Backward(rec.Savepoints) {
		out = append(out, renderSavepoint(rec.ID, sp))
	}
	return out, nil
}

func (s *Service) savepoint(ctx context.Context, id, action string, op savepointOp) (api.Savepoint, bool, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return api.Savepoint{}, false, err
	}
	if err := s.mayModifyJob(ctx, &rec, action); err != nil {
		return api.Savepoint{}, false, err
	}
	if err := checkSavepointOp(&op); err != nil {
		return api.Savepoint{}, false, err
	}
	if op.triggerID != "" {
		if sp, ok := rec.Savepoint(op.triggerID); ok {
			return s.repeated(rec.ID, sp, op)
		}
	} else {
		op.triggerID = randomTriggerID()
	}
	st := rec.Status
	if rec.Terminal || st.JobManager == "" || st.Flink.JobID == "" || st.Flink.MultipleJobs || st.State != string(api.StateRunning) {
		return api.Savepoint{}, false, fmt.Errorf("%w: %s is %s", ErrJobNotRunning, id, rec.State)
	}
	if op.target == "" {
		op.target = s.defaultSavepointDir(rec)
	}
	sp := observe.Savepoint{
		TriggerID: op.triggerID, FlinkTriggerID: flinkTriggerID(st.Flink.JobID, op.triggerID),
		ApplicationID: rec.ApplicationID, FlinkJobID: st.Flink.JobID, State: observe.SavepointInProgress,
		Format: op.format, Stop: op.stop, Drain: op.drain, TargetDirectory: op.target,
		RequestedBy: s.caller(ctx).Name, RequestedAt: time.Now().UTC(),
	}
	var existing *observe.Savepoint
	if _, err := s.opts.Registry.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
		if prev, ok := r.Savepoint(sp.TriggerID); ok { // the same trigger id, concurrently
			existing = &prev
			return false, nil
		}
		existing = nil
		return r.SetSavepoint(sp), nil
	}); err != nil {
		return api.Savepoint{}, false, fmt.Errorf("record the savepoint of %s: %w", id, err)
	}
	if existing != nil {
		return s.repeated(rec.ID, *existing, op)
	}
	jm, err := jobmanager.New(st.JobManager, s.jmHTTP)
	if err == nil {
		tctx, cancel := context.WithTimeout(ctx, savepointTimeout)
		if op.stop {
			_, err = jm.Stop(tctx, sp.FlinkJobID, jobmanager.StopRequest{TargetDirectory: sp.TargetDirectory, Drain: sp.Drain,
				FormatType: sp.Format, TriggerID: sp.FlinkTriggerID})
		} else {
			_, err = jm.TriggerSavepoint(tctx, sp.FlinkJobID, jobmanager.SavepointTrigger{TargetDirectory: sp.TargetDirectory,
				FormatType: sp.Format, TriggerID: sp.FlinkTriggerID})
		}
		cancel()
	}
	s.opts.Logger.InfoContext(ctx, "savepoint triggered", "requestId", RequestID(ctx), "job", id, "triggerId", sp.TriggerID,
		"stop", sp.Stop, "target", sp.TargetDirectory, "error", err)
	if err != nil && (errors.Is(err, jobmanager.ErrBadRequest) || errors.Is(err, jobmanager.ErrNotFound)) {
		// Refused: it will never be taken. Unanswered calls stay IN_PROGRESS; the reconciler asks the
		// JobManager about the trigger, which it may have received.
		sp.State, sp.Failure, sp.CompletedAt = observe.SavepointFailed, "the JobManager refused it: "+err.Error(), time.Now().UTC()
		if _, uerr := s.opts.Registry.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
			return r.SetSavepoint(sp), nil
		}); uerr != nil {
			return api.Savepoint{}, false, fmt.Errorf("record the failed savepoint of %s: %w", id, uerr)
		}
	}
	return renderSavepoint(rec.ID, sp), true, nil
}

// repeated answers a trigger id used before: the savepoint it started, when the parameters are the same.
func (s *Service) repeated(id string, sp observe.Savepoint, op savepointOp) (api.Savepoint, bool, error) {
	if sp.Stop != op.stop || sp.Drain != op.drain || sp.Format != op.format || (op.target != "" && op.target != sp.TargetDirectory) {
		return api.Savepoint{}, false, fmt.Errorf("%w: %s", ErrTriggerIDReused, op.triggerID)
	}
	return renderSavepoint(id, sp), false, nil
}

// checkSavepointOp validates a savepoint's parameters and fills in the default format.
func checkSavepointOp(op *savepointOp) error {
	var e api.SpecError
	if op.triggerID != "" && !validTriggerID(op.triggerID) {
		e.Add("triggerId", "must be 1 to 64 letters, digits, '-', '_' or '.'")
	}
	switch op.format {
	case "":
		op.format = string(api.FormatCanonical)
	case string(api.FormatCanonical), string(api.FormatNative):
	default:
		e.Add("format", "must be CANONICAL or NATIVE, not %q", op.format)
	}
	if t := op.target; t != "" {
		if len(t) > 1024 || strings.ContainsFunc(t, func(r rune) bool { return r < 0x21 || r == 0x7f }) ||
			!(path.IsAbs(t) || strings.Contains(t, "://")) {
			e.Add("targetDirectory", "must be an absolute path or a URI without spaces or control characters")
		}
	}
	return e.OrNil()
}

func validTriggerID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return id != ""
}

// flinkTriggerID derives the trigger id the JobManager gets (32 hex digits, as Flink's TriggerId) from the
// Flink job and the caller's trigger id: a repeated trigger is deduplicated by the JobManager as well.
func flinkTriggerID(flinkJobID, triggerID string) string {
	h := sha256.Sum256([]byte("yarngate-savepoint\x00" + flinkJobID + "\x00" + triggerID))
	return hex.EncodeToString(h[:16])
}

func randomTriggerID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "sp-" + hex.EncodeToString(b[:])
}

// defaultSavepointDir is where a savepoint goes without a target directory: the job's state.savepoints.dir,
// else <SavepointRoot>/<job id>.
func (s *Service) defaultSavepointDir(rec registry.Record) string {
	var spec struct {
		FlinkConfig map[string]any `json:"flinkConfig"`
	}
	if json.Unmarshal(rec.Spec, &spec) == nil {
		if d, ok := spec.FlinkConfig["state.savepoints.dir"].(string); ok && d != "" {
			return d
		}
	}
	return strings.TrimRight(s.opts.SavepointRoot, "/") + "/" + rec.ID
}

// renderSavepoint is the API object of a stored savepoint.
func renderSavepoint(jobID string, sp observe.Savepoint) api.Savepoint {
	out := api.Savepoint{TriggerID: sp.TriggerID, JobID: jobID, ApplicationID: sp.ApplicationID, FlinkJobID: sp.FlinkJobID,
		State: api.SavepointState(sp.State), Format: api.SavepointFormat(sp.Format), Stop: sp.Stop, Drain: sp.Drain,
		TargetDirectory: sp.TargetDirectory, RequestedBy: sp.RequestedBy, RequestedAt: sp.RequestedAt}
	if sp.Path != "" {
		out.Path = &sp.Path
	}
	if sp.Failure != "" {
		out.Failure = &sp.Failure
	}
	if !sp.CompletedAt.IsZero() {
		out.CompletedAt = &sp.CompletedAt
	}
	if !sp.DisposedAt.IsZero() {
		out.DisposedAt = &sp.DisposedAt
	}
	return out
}
