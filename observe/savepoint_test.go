package observe

import (
	"slices"
	"testing"
	"time"
)

func TestObserveSavepoint(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	inProgress := Savepoint{TriggerID: "a", State: SavepointInProgress, RequestedAt: t0}
	for _, tc := range []struct {
		name      string
		prev      Savepoint
		answer    SavepointAnswer
		ended     bool
		now       time.Time
		state     string
		path      string
		failure   bool
		completed bool
	}{
		{name: "still running", prev: inProgress, answer: SavepointAnswer{Answered: true, Known: true}, now: t0.Add(time.Second), state: SavepointInProgress},
		{name: "completed", prev: inProgress, answer: SavepointAnswer{Answered: true, Known: true, Completed: true, Location: "hdfs:///sp/savepoint-1"},
			now: t0.Add(time.Second), state: SavepointCompleted, path: "hdfs:///sp/savepoint-1", completed: true},
		{name: "failed", prev: inProgress, answer: SavepointAnswer{Answered: true, Known: true, Completed: true, Failure: "CheckpointException: tasks not running"},
			now: t0.Add(time.Second), state: SavepointFailed, failure: true, completed: true},
		{name: "completed without a path", prev: inProgress, answer: SavepointAnswer{Answered: true, Known: true, Completed: true},
			now: t0.Add(time.Second), state: SavepointFailed, failure: true, completed: true},
		{name: "unknown trigger within the grace", prev: inProgress, answer: SavepointAnswer{Answered: true}, now: t0.Add(time.Minute), state: SavepointInProgress},
		{name: "unknown trigger after the grace", prev: inProgress, answer: SavepointAnswer{Answered: true}, now: t0.Add(3 * time.Minute),
			state: SavepointFailed, failure: true, completed: true},
		{name: "no answer, job runs", prev: inProgress, now: t0.Add(time.Hour), state: SavepointInProgress},
		{name: "no answer, job ended", prev: inProgress, ended: true, now: t0.Add(time.Minute), state: SavepointFailed, failure: true, completed: true},
		{name: "an answer wins over the end", prev: inProgress, ended: true, answer: SavepointAnswer{Answered: true, Known: true, Completed: true, Location: "/sp/x"},
			now: t0.Add(time.Minute), state: SavepointCompleted, path: "/sp/x", completed: true},
		{name: "the job ended, its archive names it", prev: Savepoint{TriggerID: "a", State: SavepointInProgress, RequestedAt: t0, TargetDirectory: "hdfs://nn:8020/sp/app"},
			answer: SavepointAnswer{Archived: []ArchivedSavepoint{{Path: "hdfs://nn:8020/sp/app/savepoint-old", TriggeredAt: t0.Add(-time.Hour)},
				{Path: "hdfs://nn:8020/sp/app/savepoint-new", TriggeredAt: t0.Add(time.Second)}, {Path: "hdfs://nn:8020/elsewhere/savepoint-x", TriggeredAt: t0.Add(2 * time.Second)}}},
			ended: true, now: t0.Add(time.Minute), state: SavepointCompleted, path: "hdfs://nn:8020/sp/app/savepoint-new", completed: true},
		{name: "the archive by path only", prev: Savepoint{TriggerID: "a", State: SavepointInProgress, RequestedAt: t0, TargetDirectory: "/sp/app"},
			answer: SavepointAnswer{Archived: []ArchivedSavepoint{{Path: "hdfs://nn:8020/sp/app/savepoint-new", TriggeredAt: t0.Add(time.Second)}}},
			ended:  true, now: t0.Add(time.Minute), state: SavepointCompleted, path: "hdfs://nn:8020/sp/app/savepoint-new", completed: true},
		{name: "the archive names only older ones", prev: Savepoint{TriggerID: "a", State: SavepointInProgress, RequestedAt: t0, TargetDirectory: "/sp/app"},
			answer: SavepointAnswer{Archived: []ArchivedSavepoint{{Path: "/sp/app/savepoint-old", TriggeredAt: t0.Add(-time.Hour)}}},
			ended:  true, now: t0.Add(time.Minute), state: SavepointFailed, failure: true, completed: true},
		{name: "completed stays", prev: Savepoint{TriggerID: "a", State: SavepointCompleted, Path: "/sp/y"},
			answer: SavepointAnswer{Answered: true, Known: true, Completed: true, Failure: "late"}, now: t0, state: SavepointCompleted, path: "/sp/y"},
		{name: "disposed stays", prev: Savepoint{TriggerID: "a", State: SavepointDisposed, Path: "/sp/y"}, ended: true, now: t0, state: SavepointDisposed, path: "/sp/y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ObserveSavepoint(tc.prev, tc.answer, tc.ended, tc.now)
			if got.State != tc.state || got.Path != tc.path || (got.Failure != "") != tc.failure || got.CompletedAt.IsZero() == tc.completed && tc.prev.State == SavepointInProgress {
				t.Errorf("ObserveSavepoint = %+v, want state %s path %q failure %v completed %v", got, tc.state, tc.path, tc.failure, tc.completed)
			}
		})
	}
}

func TestSavepointsToDispose(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	done := func(id string, age time.Duration) Savepoint {
		return Savepoint{TriggerID: id, State: SavepointCompleted, CompletedAt: now.Add(-age)}
	}
	sps := []Savepoint{done("old", 72*time.Hour), done("mid", 48*time.Hour), {TriggerID: "failed", State: SavepointFailed},
		done("new", time.Hour), {TriggerID: "running", State: SavepointInProgress}, {TriggerID: "gone", State: SavepointDisposed}}
	for _, tc := range []struct {
		name string
		sps  []Savepoint
		r    Retention
		want []string
	}{
		{name: "no limits", sps: sps, want: nil},
		{name: "count", sps: sps, r: Retention{MaxCount: 2}, want: []string{"old"}},
		{name: "count one", sps: sps, r: Retention{MaxCount: 1}, want: []string{"old", "mid"}},
		{name: "age", sps: sps, r: Retention{MaxAge: 50 * time.Hour}, want: []string{"old"}},
		{name: "age keeps the newest", sps: sps, r: Retention{MaxAge: time.Minute}, want: []string{"old", "mid"}},
		{name: "both", sps: sps, r: Retention{MaxCount: 2, MaxAge: 60 * time.Hour}, want: []string{"old"}},
		{name: "only one", sps: []Savepoint{done("only", 1000*time.Hour)}, r: Retention{MaxCount: 1, MaxAge: time.Minute}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SavepointsToDispose(tc.sps, tc.r, now); !slices.Equal(got, tc.want) {
				t.Errorf("SavepointsToDispose = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTrimSavepoints(t *testing.T) {
	var sps []Savepoint
	for i := range maxSavepointHistory + 5 {
		st := SavepointCompleted
		if i%2 == 0 {
			st = SavepointDisposed
		}
		sps = append(sps, Savepoint{TriggerID: string(rune('a' + i%26)), State: st})
	}
	got := TrimSavepoints(slices.Clone(sps))
	if len(got) != maxSavepointHistory {
		t.Fatalf("kept %d, want %d", len(got), maxSavepointHistory)
	}
	for i := range 5 { // the first five disposed (every other entry) went
		if got[i] != sps[2*i+1] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], sps[2*i+1])
		}
	}
}
