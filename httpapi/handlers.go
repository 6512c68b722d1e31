package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// uploadJar handles POST /v1/jars.
func (s *server) uploadJar(c *gin.Context) error {
	req, err := decodeUpload(c, s.opts.MaxJarSize, s.opts.UploadIdleTimeout, s.newPace())
	if err != nil {
		return err
	}
	res, err := s.opts.Jars.Upload(c.Request.Context(), req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.Header("Location", "/v1/jars/"+res.Jar.ID)
	c.JSON(status, job.JarToAPI(res.Jar))
	return nil
}

// listJars handles GET /v1/jars.
func (s *server) listJars(c *gin.Context) error {
	jars, err := s.opts.Jars.List(c.Request.Context())
	if err != nil {
		return err
	}
	out := api.JarList{Jars: make([]api.Jar, 0, len(jars))}
	for _, j := range jars {
		out.Jars = append(out.Jars, job.JarToAPI(j))
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// jarID binds and validates the :id path parameter.
func jarID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !job.ValidJarID(id) {
		return "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "a jar id is 64 lower-case hex digits", nil)
	}
	return id, nil
}

// getJar handles GET /v1/jars/:id.
func (s *server) getJar(c *gin.Context) error {
	id, err := jarID(c)
	if err != nil {
		return err
	}
	jar, err := s.opts.Jars.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, job.JarToAPI(jar))
	return nil
}

// deleteJar handles DELETE /v1/jars/:id.
func (s *server) deleteJar(c *gin.Context) error {
	id, err := jarID(c)
	if err != nil {
		return err
	}
	if err := s.opts.Jars.Delete(c.Request.Context(), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// healthz handles GET /healthz: the process is up.
func (s *server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
	return nil
}

// ReadinessCheck is one dependency probed by GET /readyz.
type ReadinessCheck struct {
	// Name identifies the dependency in responses and logs, such as "hdfs" or "yarn".
	Name string
	// Check returns nil when the dependency answers. It must respect ctx.
	Check func(ctx context.Context) error
}

// publicReason is implemented by readiness errors that can say what is wrong in words safe for any client
// (such as kerberos.LoginError); /readyz lists those reasons as the error's details, by check name. Other
// causes are only logged.
type publicReason interface{ PublicReason() string }

// readyz handles GET /readyz: every readiness check passes, run concurrently within ReadyTimeout.
func (s *server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.ReadyTimeout)
	defer cancel()
	errs := make([]error, len(s.opts.Readiness))
	var wg sync.WaitGroup
	for i, rc := range s.opts.Readiness {
		wg.Go(func() { errs[i] = rc.Check(ctx) })
	}
	wg.Wait()
	checks := make(map[string]string, len(errs))
	var failed []string
	var causes []error
	var reasons []api.FieldProblem
	for i, rc := range s.opts.Readiness {
		if errs[i] != nil {
			checks[rc.Name] = "failed"
			failed = append(failed, rc.Name)
			causes = append(causes, errors.New(rc.Name+": "+errs[i].Error()))
			var pr publicReason
			if errors.As(errs[i], &pr) {
				reasons = append(reasons, api.FieldProblem{Field: rc.Name, Reason: pr.PublicReason()})
			}
			continue
		}
		checks[rc.Name] = "ok"
	}
	if len(failed) > 0 {
		e := newAPIError(http.StatusServiceUnavailable, api.CodeNotReady, "not ready: no answer from "+strings.Join(failed, ", "), errors.Join(causes...))
		e.details = reasons
		return e
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
	return nil
}

// openAPI handles GET /v1/openapi.yaml.
func (s *server) openAPI(c *gin.Context) error {
	c.Data(http.StatusOK, "application/yaml", api.OpenAPI)
	return nil
}
