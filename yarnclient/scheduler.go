package yarnclient

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Queues describes the scheduler's leaf queues, the ones applications can be submitted to.
type Queues struct {
	// Scheduler is the scheduler type the RM reports: fifoScheduler, capacityScheduler or fairScheduler.
	Scheduler string
	// Leaves holds every leaf queue under its short name and its full path (root.a.b), sorted.
	Leaves []string
}

// Known reports whether name is a leaf queue, by short name or full path. A scheduler whose queues this
// client cannot read answers true: the ResourceManager then has the last word.
func (q Queues) Known(name string) bool {
	if len(q.Leaves) == 0 {
		return true
	}
	i := sort.SearchStrings(q.Leaves, name)
	return i < len(q.Leaves) && q.Leaves[i] == name
}

// schedulerQueue is one queue in the capacity (queueName, queuePath, queues) or fair (queueName,
// childQueues) scheduler's answer.
type schedulerQueue struct {
	QueueName   string          `json:"queueName"`
	QueuePath   string          `json:"queuePath"`
	Queues      *queueList      `json:"queues"`
	ChildQueues *queueList      `json:"childQueues"`
	Type        string          `json:"type"`
	RootQueue   *schedulerQueue `json:"rootQueue"`
}

type queueList struct {
	Queue []schedulerQueue `json:"queue"`
}

// Queues reads the scheduler's queue tree (GET /ws/v1/cluster/scheduler).
func (c *Client) Queues(ctx context.Context) (Queues, error) {
	var env struct {
		Scheduler struct {
			Info json.RawMessage `json:"schedulerInfo"`
		} `json:"scheduler"`
	}
	if err := c.getJSON(ctx, "/ws/v1/cluster/scheduler", nil, &env); err != nil {
		return Queues{}, fmt.Errorf("read scheduler queues: %w", err)
	}
	var root schedulerQueue
	if err := json.Unmarshal(env.Scheduler.Info, &root); err != nil {
		return Queues{}, fmt.Errorf("read scheduler queues: %w: %w", ErrUnexpectedResponse, err)
	}
	q := Queues{Scheduler: root.Type}
	switch root.Type {
	case "fifoScheduler":
		q.Leaves = []string{"default", "root.default"}
	case "capacityScheduler":
		q.Leaves = leaves(&root, nil)
	case "fairScheduler":
		if root.RootQueue != nil {
			q.Leaves = leaves(root.RootQueue, nil)
		}
	}
	sort.Strings(q.Leaves)
	return q, nil
}

// leaves collects the short names and full paths of the leaf queues under q.
func leaves(q *schedulerQueue, out []string) []string {
	var children []schedulerQueue
	if q.Queues != nil {
		children = q.Queues.Queue
	} else if q.ChildQueues != nil {
		children = q.ChildQueues.Queue
	}
	if len(children) == 0 {
		full := q.QueuePath
		if full == "" {
			full = q.QueueName // the fair scheduler names queues by their full path
		}
		short := full
		for i := len(full) - 1; i >= 0; i-- {
			if full[i] == '.' {
				short = full[i+1:]
				break
			}
		}
		out = append(out, short)
		if full != short {
			out = append(out, full)
		}
		return out
	}
	for i := range children {
		out = leaves(&children[i], out)
	}
	return out
}
