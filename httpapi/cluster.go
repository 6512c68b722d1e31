package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
)

// clusterAPI is what the /v1/cluster handler calls (*job.ClusterService).
type clusterAPI interface {
	View(ctx context.Context) api.ClusterView
}

// getCluster handles GET /v1/cluster.
func (s *server) getCluster(c *gin.Context) error {
	if s.opts.Cluster == nil {
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "the cluster view is not configured", nil)
	}
	c.JSON(http.StatusOK, s.opts.Cluster.View(c.Request.Context()))
	return nil
}
