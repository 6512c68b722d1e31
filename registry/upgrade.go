package registry

import (
	"encoding/json"

	"github.com/yarngate/yarngate/observe"
)

// upgrade converts a record of schema 0, which stored the API object it last rendered (View), into one with
// a typed Status. It is the only reader of that old shape; a record already at a schema is left alone.
func upgrade(r *Record) {
	if r.Status.Schema != 0 || len(r.View) == 0 {
		return
	}
	var v struct {
		Name   string `json:"name"`
		Target string `json:"target"`
		State  string `json:"state"`
		YARN   struct {
			ApplicationID string `json:"applicationId"`
			State         string `json:"state"`
			FinalStatus   string `json:"finalStatus"`
			Diagnostics   string `json:"diagnostics"`
			Queue         string `json:"queue"`
			User          string `json:"user"`
		} `json:"yarn"`
		Flink struct {
			JobID   string  `json:"jobId"`
			State   *string `json:"state"`
			Version string  `json:"version"`
			Failure *string `json:"failure"`
		} `json:"flink"`
		FlinkVersion string `json:"flinkVersion"`
		Links        struct {
			JobManager *string `json:"jobManager"`
		} `json:"links"`
	}
	if json.Unmarshal(r.View, &v) != nil {
		return
	}
	s := observe.Status{Schema: observe.SchemaVersion, State: r.State, Since: r.UpdatedAt,
		YARN: observe.YARN{ApplicationID: r.ApplicationID, State: v.YARN.State, FinalStatus: v.YARN.FinalStatus,
			Diagnostics: v.YARN.Diagnostics, Queue: v.YARN.Queue, User: v.YARN.User},
		Flink: observe.Flink{JobID: v.Flink.JobID, Version: v.Flink.Version}}
	if n := len(r.History); n > 0 {
		s.Since = r.History[n-1].At
	}
	for _, t := range r.History {
		if t.State == "STARTING" || t.State == "RUNNING" {
			s.Ran = true
		}
	}
	if s.Flink.Version == "" {
		s.Flink.Version = v.FlinkVersion
	}
	if v.Flink.State != nil {
		s.Flink.State = *v.Flink.State
	}
	if v.Flink.Failure != nil {
		s.Flink.Failure = *v.Flink.Failure
	}
	if v.Links.JobManager != nil && !r.Terminal {
		s.JobManager = *v.Links.JobManager
	}
	if r.State == "STOPPING" {
		s.StopRequested = s.Since
	}
	if r.Name == "" {
		r.Name = v.Name
	}
	if r.Target == "" {
		r.Target = v.Target
	}
	r.Status, r.View = s, nil
}
