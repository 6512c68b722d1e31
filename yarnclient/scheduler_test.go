package yarnclient

import (
	"reflect"
	"testing"
)

func TestQueues(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		scheduler string
		leaves    []string
		known     []string
		unknown   []string
	}{
		{"fifo", "scheduler_fifo.json", "fifoScheduler", []string{"default", "root.default"},
			[]string{"default", "root.default"}, []string{"etl", ""}},
		{"capacity", "scheduler_capacity.json", "capacityScheduler",
			[]string{"default", "nightly", "root.default", "root.etl.nightly"},
			[]string{"default", "nightly", "root.etl.nightly"}, []string{"etl", "root.etl", "root", "nope"}},
		{"fair", "scheduler_fair.json", "fairScheduler",
			[]string{"default", "prod", "root.default", "root.streaming.prod"},
			[]string{"prod", "root.streaming.prod", "default"}, []string{"streaming", "root.streaming"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("GET /ws/v1/cluster/scheduler", jsonFile(t, 200, tc.fixture))
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			q, err := c.Queues(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if q.Scheduler != tc.scheduler || !reflect.DeepEqual(q.Leaves, tc.leaves) {
				t.Fatalf("Queues = %+v, want %s %v", q, tc.scheduler, tc.leaves)
			}
			for _, n := range tc.known {
				if !q.Known(n) {
					t.Errorf("Known(%q) = false", n)
				}
			}
			for _, n := range tc.unknown {
				if q.Known(n) {
					t.Errorf("Known(%q) = true", n)
				}
			}
		})
	}
}

func TestQueuesUnknownSchedulerKnowsEverything(t *testing.T) {
	q := Queues{Scheduler: "someNewScheduler"}
	if !q.Known("anything") {
		t.Fatal("a scheduler whose queues cannot be read must leave the decision to the RM")
	}
}
