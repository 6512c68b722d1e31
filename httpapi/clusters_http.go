package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// flinkClusterAPI is what the registered-cluster handlers need; *job.Service implements it.
type flinkClusterAPI interface {
	RegisterCluster(ctx context.Context, req api.FlinkClusterRequest) (api.FlinkCluster, bool, error)
	FlinkCluster(ctx context.Context, id string) (api.FlinkCluster, error)
	ListClusters(ctx context.Context) ([]api.FlinkCluster, error)
	DeregisterCluster(ctx context.Context, id string) (api.FlinkCluster, error)
}

// flinkClustersAPI returns the registered-cluster service, or an error when the gateway runs without one.
func (s *server) flinkClustersAPI() (flinkClusterAPI, error) {
	if s.opts.FlinkClusters == nil {
		return nil, newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable,
			"registered clusters are not configured on this gateway (no job registry)", nil)
	}
	return s.opts.FlinkClusters, nil
}

// flinkClusterID binds and validates the :id path parameter.
func flinkClusterID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !job.ValidClusterID(id) {
		return "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
			"a cluster id is 1 to 63 lower-case letters, digits and hyphens", nil)
	}
	return id, nil
}

// decodeFlinkClusterRequest parses a JSON registration strictly.
func decodeFlinkClusterRequest(b []byte) (api.FlinkClusterRequest, error) {
	var req api.FlinkClusterRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return api.FlinkClusterRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: jsonProblem(err)}}}
	}
	if strings.TrimSpace(string(b[dec.InputOffset():])) != "" {
		return api.FlinkClusterRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: "trailing data after the JSON object"}}}
	}
	return req, nil
}

// registerFlinkCluster handles POST /v1/clusters: 201 for a new registration, 200 for the same again.
func (s *server) registerFlinkCluster(c *gin.Context) error {
	clusters, err := s.flinkClustersAPI()
	if err != nil {
		return err
	}
	b, err := readSmallBody(c, maxSpecSize, "the cluster registration is larger than 1 MiB")
	if err != nil {
		return err
	}
	req, err := decodeFlinkClusterRequest(b)
	if err != nil {
		return err
	}
	cl, created, err := clusters.RegisterCluster(c.Request.Context(), req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.Header("Location", "/v1/clusters/"+cl.ID)
	c.JSON(status, cl)
	return nil
}

// getFlinkCluster handles GET /v1/clusters/:id: the registration and the cluster's health now.
func (s *server) getFlinkCluster(c *gin.Context) error {
	clusters, err := s.flinkClustersAPI()
	if err != nil {
		return err
	}
	id, err := flinkClusterID(c)
	if err != nil {
		return err
	}
	cl, err := clusters.FlinkCluster(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, cl)
	return nil
}

// listFlinkClusters handles GET /v1/clusters.
func (s *server) listFlinkClusters(c *gin.Context) error {
	clusters, err := s.flinkClustersAPI()
	if err != nil {
		return err
	}
	list, err := clusters.ListClusters(c.Request.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []api.FlinkCluster{}
	}
	c.JSON(http.StatusOK, api.FlinkClusterList{Clusters: list})
	return nil
}

// deleteFlinkCluster handles DELETE /v1/clusters/:id: the registration is removed, the cluster runs on.
func (s *server) deleteFlinkCluster(c *gin.Context) error {
	clusters, err := s.flinkClustersAPI()
	if err != nil {
		return err
	}
	id, err := flinkClusterID(c)
	if err != nil {
		return err
	}
	cl, err := clusters.DeregisterCluster(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, cl)
	return nil
}
