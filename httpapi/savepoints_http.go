package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
)

// maxSavepointRequest bounds the body of a savepoint trigger or a stop.
const maxSavepointRequest = 8 << 10

// triggerSavepoint handles POST /v1/jobs/:id/savepoints: 202 with a new savepoint, 200 with the one a
// repeated trigger id started.
func (s *server) triggerSavepoint(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	var req api.SavepointRequest
	if err := decodeSmall(c, &req); err != nil {
		return err
	}
	sp, created, err := jobs.TriggerSavepoint(c.Request.Context(), id, req)
	if err != nil {
		return err
	}
	renderSavepoint(c, sp, created)
	return nil
}

// stopJob handles POST /v1/jobs/:id/stop: stop with a savepoint; 202 with the savepoint it takes.
func (s *server) stopJob(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	var req api.StopRequest
	if err := decodeSmall(c, &req); err != nil {
		return err
	}
	sp, created, err := jobs.Stop(c.Request.Context(), id, req)
	if err != nil {
		return err
	}
	renderSavepoint(c, sp, created)
	return nil
}

// upgradeJob handles POST /v1/jobs/:id/upgrade: 202 with the job whose upgrade this request started, 200
// with the job when the upgrade id was used before.
func (s *server) upgradeJob(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	var req api.UpgradeRequest
	if err := decodeSmall(c, &req); err != nil {
		return err
	}
	j, created, err := jobs.Upgrade(c.Request.Context(), id, req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	c.JSON(status, j)
	return nil
}

// listSavepoints handles GET /v1/jobs/:id/savepoints.
func (s *server) listSavepoints(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	list, err := jobs.Savepoints(c.Request.Context(), id)
	if err != nil {
		return err
	}
	if list == nil {
		list = []api.Savepoint{}
	}
	c.JSON(http.StatusOK, api.SavepointList{Savepoints: list})
	return nil
}

// renderSavepoint answers 202 for a savepoint under way that this request started, 200 otherwise.
func renderSavepoint(c *gin.Context, sp api.Savepoint, created bool) {
	status := http.StatusOK
	if created && sp.State == api.SavepointInProgress {
		status = http.StatusAccepted
	}
	c.JSON(status, sp)
}

// decodeSmall decodes an optional small JSON body strictly (unknown fields refused).
func decodeSmall(c *gin.Context, out any) error {
	b, err := readSmallBody(c, maxSavepointRequest, "the request is larger than 8 KiB")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: jsonProblem(err)}}}
	}
	return nil
}
