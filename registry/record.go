package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/yarngate/yarngate/observe"
)

// Tables of the registry.
const (
	// TableJobs holds one Record per job (application and session jobs) and per session cluster.
	TableJobs = "jobs"
	// TableKeys holds one KeyClaim per idempotency key, named by the key's hash.
	TableKeys = "keys"
)

// Kinds of records.
const (
	KindJob     = "job"     // a job in its own application cluster
	KindSession = "session" // a session cluster
	// KindSessionJob is a job submitted into a session cluster.
	KindSessionJob = "session-job"
	// KindCluster is an existing Flink cluster registered with the gateway (POST /v1/clusters); its record's
	// ID is the registration's id and Cluster says where its JobManager is.
	KindCluster = "cluster"
	// KindClusterJob is a job submitted into a registered cluster; ApplicationID is the cluster's id.
	KindClusterJob = "cluster-job"
)

// Record is what the registry keeps of one job or session.
type Record struct {
	// ID is the API id (the YARN application id, or "<session id>.<Flink job id>").
	ID string `json:"id"`
	// Kind is KindJob, KindSession or KindSessionJob.
	Kind string `json:"kind"`
	// ApplicationID is the YARN application running it.
	ApplicationID string `json:"applicationId"`
	// Owner is the user who created it (the short name of the caller's principal), or, for an application
	// the gateway adopted, the user YARN runs it as.
	Owner string `json:"owner"`
	// SubmittedBy is the principal that submitted it (as authenticated, such as airflow@EXAMPLE.COM), for
	// the audit: the caller, who may have acted for the owner (proxyUser). Empty for adopted applications
	// and records of earlier versions.
	SubmittedBy string `json:"submittedBy,omitempty"`
	// ACL grants others access; nil grants nobody (besides administrators).
	ACL *ACL `json:"acl,omitempty"`
	// Name is the job's or session's name; Target is where a job runs ("application" or "session").
	Name   string `json:"name,omitempty"`
	Target string `json:"target,omitempty"`
	// KeyHash is the SHA-256 (hex) of the idempotency key it was submitted with, if any; Fingerprint
	// identifies the request, to tell a retry from a reused key.
	KeyHash     string `json:"keyHash,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Spec is the request, without secrets.
	Spec json.RawMessage `json:"spec,omitempty"`
	// State is the current state of the API object; Terminal says whether it is final.
	State    string `json:"state"`
	Terminal bool   `json:"terminal"`
	// History lists every state the record went through, oldest first.
	History []Transition `json:"history"`
	// Status is what the gateway last observed (typed and versioned); the API object is rendered from it.
	Status observe.Status `json:"status"`
	// Savepoints are the job's savepoints, oldest first: in progress, completed, failed, and disposed by
	// retention (a bounded history).
	Savepoints []observe.Savepoint `json:"savepoints,omitempty"`
	// Runs are the job's applications, oldest first (empty for a job never upgraded: its one application is
	// ApplicationID); Upgrade is its latest upgrade, in progress or ended.
	Runs    []Run            `json:"runs,omitempty"`
	Upgrade *observe.Upgrade `json:"upgrade,omitempty"`
	// AutoRestart is the job's automatic restart policy (its request's autoRestart) and the restarts begun
	// under it; nil when the job asked for none.
	AutoRestart *observe.AutoRestart `json:"autoRestart,omitempty"`
	// View is the API object as records of schema 0 stored it; decoding converts it into Status (see
	// upgrade) and it is never written again.
	View json.RawMessage `json:"view,omitempty"`
	// Cluster is where a registered cluster's JobManager is (KindCluster only).
	Cluster *ClusterRegistration `json:"cluster,omitempty"`
	// Credentials describes what a cluster on a Kerberized Hadoop was launched with; nil otherwise.
	Credentials *Credentials `json:"credentials,omitempty"`
	// Launcher is the instance launching the application; empty once the launch is complete. A record
	// with a Launcher that no longer runs is a launch that was cut short.
	Launcher string `json:"launcher,omitempty"`
	// Files are HDFS paths owned by this record, removed when it is dropped.
	Files []string `json:"files,omitempty"`
	// CreatedAt, UpdatedAt: when the record was created and last written; EndedAt: when it became
	// terminal; GoneAt: when YARN was first seen no longer knowing the application.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	GoneAt    time.Time `json:"goneAt,omitzero"`

	// Webhooks are the job's own notification targets (the request's notifications); the configured global
	// ones apply to every record besides.
	Webhooks []Webhook `json:"webhooks,omitempty"`
	// Outbox holds the events published and not yet delivered (see Publish); OutboxDropped counts those
	// dropped because the outbox was full.
	Outbox        []Event `json:"outbox,omitempty"`
	OutboxDropped int     `json:"outboxDropped,omitempty"`

	// Version is the stored version this record was read at; Update writes only over it.
	Version Version `json:"-"`
}

// Transition is one state change of a record.
type Transition struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
	// Reason says why, when the gateway knows more than the state says (a LOST record's cause).
	Reason string `json:"reason,omitempty"`
}

// SetState moves the record to state at time at, appending to its history when the state changes.
// A terminal record keeps its state: a record only becomes terminal once.
func (r *Record) SetState(state string, terminal bool, at time.Time, reason string) bool {
	if r.Terminal || (r.State == state && r.Terminal == terminal) {
		return false
	}
	r.Publish(Event{Type: EventState, At: at, State: state, Previous: r.State, Reason: reason})
	r.State, r.Terminal = state, terminal
	r.History = append(r.History, Transition{State: state, At: at.UTC(), Reason: reason})
	if terminal {
		r.EndedAt = at.UTC()
	}
	return true
}

// SetStatus stores a newly observed status; false when it equals the stored one, so that an unchanged
// observation is never written. The history follows the status's state (a record ends once); reason says
// why, when the gateway knows more than the state does.
func (r *Record) SetStatus(s observe.Status, reason string) bool {
	if r.Status.Equal(s) {
		return false
	}
	old := r.Status.Health
	r.Status = s
	r.SetState(s.State, observe.Terminal(observe.Kind(r.Kind), s.State), s.Since, reason)
	if h := s.Health; h.Status != "" && h.Status != old.Status {
		// After the state event: a job is RUNNING before it is healthy.
		r.Publish(Event{Type: EventHealth, At: h.CheckedAt, State: s.State, Health: h.Status,
			PreviousHealth: old.Status, HealthReasons: h.Reasons})
	}
	return true
}

// Savepoint returns the savepoint with a trigger id, and whether there is one.
func (r *Record) Savepoint(triggerID string) (observe.Savepoint, bool) {
	for _, sp := range r.Savepoints {
		if sp.TriggerID == triggerID {
			return sp, true
		}
	}
	return observe.Savepoint{}, false
}

// SetSavepoint stores a savepoint over the one with the same trigger id, or appends it; false when the
// record has it unchanged. A savepoint that becomes COMPLETED or FAILED publishes an EventSavepoint in the
// same change.
func (r *Record) SetSavepoint(sp observe.Savepoint) bool {
	prev := ""
	found := false
	for i := range r.Savepoints {
		if r.Savepoints[i].TriggerID == sp.TriggerID {
			if r.Savepoints[i] == sp {
				return false
			}
			prev, found = r.Savepoints[i].State, true
			r.Savepoints[i] = sp
			break
		}
	}
	if !found {
		r.Savepoints = observe.TrimSavepoints(append(r.Savepoints, sp))
	}
	if sp.State != prev && (sp.State == observe.SavepointCompleted || sp.State == observe.SavepointFailed) {
		data := map[string]string{"status": sp.State, "triggerId": sp.TriggerID}
		if sp.Path != "" {
			data["path"] = sp.Path
		}
		if sp.Failure != "" {
			data["failure"] = sp.Failure
		}
		if sp.Stop {
			data["stop"] = "true"
		}
		r.Publish(Event{Type: EventSavepoint, At: sp.CompletedAt, State: r.State, Reason: sp.Failure, Data: data})
	}
	return true
}

// KeyClaim maps an idempotency key (by hash) to the record submitted with it.
type KeyClaim struct {
	// ID is the record's id; empty while the launch is under way.
	ID string `json:"id,omitempty"`
	// Launcher is the instance launching it while ID is empty. A claim whose launcher no longer runs
	// was cut short and may be taken over.
	Launcher string `json:"launcher,omitempty"`
	// Fingerprint identifies the request the key was first used with.
	Fingerprint string `json:"fingerprint"`
	// CreatedAt is when the key was first used.
	CreatedAt time.Time `json:"createdAt"`

	// Version is the stored version this claim was read at.
	Version Version `json:"-"`
}

func key(table, name string) string { return table + "/" + name }

func decodeRecord(e Entry) (Record, error) {
	var r Record
	if err := json.Unmarshal(e.Value, &r); err != nil {
		return Record{}, fmt.Errorf("registry: decode %s: %w", e.Key, err)
	}
	r.Version = e.Version
	upgrade(&r)
	return r, nil
}

func decodeClaim(e Entry) (KeyClaim, error) {
	var c KeyClaim
	if err := json.Unmarshal(e.Value, &c); err != nil {
		return KeyClaim{}, fmt.Errorf("registry: decode %s: %w", e.Key, err)
	}
	c.Version = e.Version
	return c, nil
}

// Credentials is what a cluster on a Kerberized Hadoop was launched with.
type Credentials struct {
	// HDFSTokenExpires is the maximum date of the HDFS delegation token submitted with the application.
	HDFSTokenExpires time.Time `json:"hdfsTokenExpires"`
	// KeytabPrincipal is the principal of the keytab the cluster logs in with, "" without one.
	KeytabPrincipal string `json:"keytabPrincipal,omitempty"`
}

// ACL grants users and groups other than the owner access to a record: entries are user names,
// "group:<name>" or "*".
type ACL struct {
	// View may see it; Modify may also act on it.
	View   []string `json:"view,omitempty"`
	Modify []string `json:"modify,omitempty"`
}

// ClusterRegistration says where the JobManager of a registered Flink cluster is: exactly one of REST, the
// ZooKeeper fields (ZKClusterID set) and YARNApplicationID.
type ClusterRegistration struct {
	// REST lists JobManager REST base URLs.
	REST []string `json:"rest,omitempty"`
	// ZKQuorum, ZKRoot and ZKClusterID are the cluster's high-availability.zookeeper.quorum, .path.root and
	// high-availability.cluster-id: its REST leader is read from ZooKeeper.
	ZKQuorum    string `json:"zkQuorum,omitempty"`
	ZKRoot      string `json:"zkRoot,omitempty"`
	ZKClusterID string `json:"zkClusterId,omitempty"`
	// YARNApplicationID is a Flink session on the gateway's YARN: its JobManager is the one YARN reports.
	YARNApplicationID string `json:"yarnApplicationId,omitempty"`
}

// Kind is "rest", "zookeeper" or "yarn".
func (c ClusterRegistration) Kind() string {
	switch {
	case c.ZKClusterID != "":
		return "zookeeper"
	case c.YARNApplicationID != "":
		return "yarn"
	default:
		return "rest"
	}
}
