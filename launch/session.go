package launch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/flink/jobmanager"
)

// Time limits of session job submissions: uploading a jar to a JobManager, and running main() there until
// it has submitted the job.
const (
	sessionUploadTimeout = 5 * time.Minute
	sessionRunTimeout    = 3 * time.Minute
)

// SessionRun is a job to run in a session's JobManager.
type SessionRun struct {
	// SessionID is the session's application id; JobManager its REST base.
	SessionID, JobManager string
	// Jar is the program (see Jar), EntryClass its main class, Args passed to main() exactly.
	Jar        flink.RemoteFile
	EntryClass string
	Args       []string
	// FlinkJobID is the job id the gateway chooses.
	FlinkJobID string
	// Parallelism, when > 0, and Savepoint, when set, configure the job.
	Parallelism int
	Savepoint   *flink.Savepoint
}

// SessionResult is what a session run gave.
type SessionResult struct {
	// Failure is main()'s failure when it failed before a Flink job existed (the session is unaffected).
	Failure string
	// Existed says the JobManager had run a job with this id already (a retry of a launch cut short).
	Existed bool
}

// ErrSessionUnreachable: the session's JobManager did not answer.
var ErrSessionUnreachable = errors.New("the session's JobManager does not answer")

// RunInSession runs a job in a session: the jar is streamed from HDFS to the session's JobManager (once per
// jar and session), then run there under the chosen Flink job id. A job the JobManager already knows under
// that id is not run again.
func (l *Launcher) RunInSession(ctx context.Context, r SessionRun) (SessionResult, error) {
	jm, err := jobmanager.New(r.JobManager, l.jmHTTP)
	if err != nil {
		return SessionResult{}, err
	}
	if _, err := jm.Config(ctx); err != nil {
		return SessionResult{}, fmt.Errorf("%w: %w", ErrSessionUnreachable, err)
	}
	if d, err := jm.Job(ctx, r.FlinkJobID); err == nil && d.State != "" {
		return SessionResult{Existed: true}, nil
	}
	jmJar, err := l.sessionJar(ctx, r.SessionID, r.JobManager, r.Jar)
	if err != nil {
		return SessionResult{}, err
	}
	run := jobmanager.RunRequest{EntryClass: r.EntryClass, ProgramArgsList: r.Args, JobID: r.FlinkJobID, Parallelism: r.Parallelism}
	if r.Savepoint != nil {
		run.SavepointPath, run.AllowNonRestoredState = r.Savepoint.Path, r.Savepoint.AllowNonRestoredState
		run.ClaimMode = r.Savepoint.ClaimMode
	}
	runJM, _ := jobmanager.New(r.JobManager, l.jmStream)
	runCtx, cancel := context.WithTimeout(ctx, sessionRunTimeout)
	_, err = runJM.RunJar(runCtx, jmJar, run)
	cancel()
	var jmErr *jobmanager.Error
	switch {
	case errors.As(err, &jmErr) && errors.Is(err, jobmanager.ErrBadRequest):
		// main() failed (or the program is invalid): no Flink job exists; the failure is the job's.
		return SessionResult{Failure: strings.Join(jmErr.Messages, "; ")}, nil
	case err != nil:
		// The job may have been submitted all the same (the answer was lost): its fixed id tells.
		if d, jerr := jm.Job(context.WithoutCancel(ctx), r.FlinkJobID); jerr == nil && d.State != "" {
			return SessionResult{}, nil
		}
		return SessionResult{}, fmt.Errorf("run jar in session %s: %w", r.SessionID, err)
	}
	return SessionResult{}, nil
}

// sessionJar returns the JobManager's id of the jar in a session, uploading it (streamed from HDFS) when the
// session does not have it. Uploads of one jar to one session are serialised, so it is uploaded once.
func (l *Launcher) sessionJar(ctx context.Context, sessionID, jmURL string, jar flink.RemoteFile) (string, error) {
	key := fmt.Sprintf("%s@%d@%d", jar.URI, jar.Size, jar.ModTime)
	unlock, err := l.locks.lock(ctx, sessionID+"\x00"+key)
	if err != nil {
		return "", err
	}
	defer unlock()
	jm, err := jobmanager.New(jmURL, l.jmHTTP)
	if err != nil {
		return "", err
	}
	if id, ok := l.jars.get(sessionID, key); ok {
		files, err := jm.Jars(ctx)
		if err != nil {
			return "", fmt.Errorf("list jars of session %s: %w", sessionID, err)
		}
		for _, f := range files {
			if f.ID == id {
				return id, nil
			}
		}
		l.jars.set(sessionID, key, "") // gone (the JobManager restarted): upload again
	}
	u, err := url.Parse(jar.URI)
	if err != nil {
		return "", fmt.Errorf("jar uri %q: %w", jar.URI, err)
	}
	upCtx, cancel := context.WithTimeout(ctx, sessionUploadTimeout)
	defer cancel()
	r, err := l.opts.Files.Open(upCtx, u.Path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", u.Path, err)
	}
	defer r.Close()
	up, _ := jobmanager.New(jmURL, l.jmStream)
	id, err := up.UploadJar(upCtx, path.Base(u.Path), r)
	if err != nil {
		return "", fmt.Errorf("upload jar to session %s: %w", sessionID, err)
	}
	l.jars.set(sessionID, key, id)
	l.opts.Logger.InfoContext(ctx, "jar uploaded to a session", "session", sessionID, "jar", jar.URI, "jobManagerJarId", id)
	return id, nil
}

// ShutdownSession asks a session's JobManager to shut its cluster down, and forgets its jar uploads.
func (l *Launcher) ShutdownSession(ctx context.Context, sessionID, jmURL string) error {
	l.jars.forget(sessionID)
	jm, err := jobmanager.New(jmURL, l.jmHTTP)
	if err != nil {
		return err
	}
	return jm.ShutdownCluster(ctx)
}

// sessionJars remembers, per session, the JobManager's ids of the jars uploaded to it. Losing it (a restart)
// costs one more upload.
type sessionJars struct {
	mu   sync.Mutex
	jars map[string]map[string]string // session → jar key → the JobManager's jar id
}

func (s *sessionJars) get(session, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.jars[session][key]
	return id, ok
}

func (s *sessionJars) set(session, key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jars == nil {
		s.jars = map[string]map[string]string{}
	}
	if s.jars[session] == nil {
		s.jars[session] = map[string]string{}
	}
	if id == "" {
		delete(s.jars[session], key)
		return
	}
	s.jars[session][key] = id
}

func (s *sessionJars) forget(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jars, session)
}

// keyLocks serialises work on the same key within this process.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// lock waits (bounded by ctx) until no other caller holds key, and returns the unlock function.
func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	for {
		k.mu.Lock()
		if k.locks == nil {
			k.locks = map[string]chan struct{}{}
		}
		held, busy := k.locks[key]
		if !busy {
			ch := make(chan struct{})
			k.locks[key] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.locks, key)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the same work under way: %w", ctx.Err())
		}
	}
}
