package app

import (
	"context"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// pagedJobs is what the job service offers the dashboard: one job, and pages of the list.
type pagedJobs interface {
	Job(ctx context.Context, id string) (api.Job, error)
	List(ctx context.Context, state api.JobState, page job.Page) (api.JobList, error)
}

// pagedSessions is what the session service offers the dashboard.
type pagedSessions interface {
	Session(ctx context.Context, id string) (api.Session, error)
	ListSessions(ctx context.Context, page job.Page) (api.SessionList, error)
}

// dashboardJobs reads the paginated job list whole for the dashboard (dashboard.JobReader), which knows
// no pages: at most maxDashboardItems items, newest first.
type dashboardJobs struct{ pagedJobs }

// maxDashboardItems bounds what one dashboard list reads (ten pages of the largest size).
const maxDashboardItems = 10 * job.MaxPageLimit

// List returns the jobs the caller may see, newest first, up to maxDashboardItems.
func (d dashboardJobs) List(ctx context.Context, state api.JobState) ([]api.Job, error) {
	var out []api.Job
	for p := (job.Page{Limit: job.MaxPageLimit}); len(out) < maxDashboardItems; {
		l, err := d.pagedJobs.List(ctx, state, p)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Jobs...)
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	return out, nil
}

// dashboardSessions reads the paginated session list whole for the dashboard (dashboard.SessionReader).
type dashboardSessions struct{ pagedSessions }

// ListSessions returns the sessions the caller may see, newest first, up to maxDashboardItems.
func (d dashboardSessions) ListSessions(ctx context.Context) ([]api.Session, error) {
	var out []api.Session
	for p := (job.Page{Limit: job.MaxPageLimit}); len(out) < maxDashboardItems; {
		l, err := d.pagedSessions.ListSessions(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Sessions...)
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	return out, nil
}
