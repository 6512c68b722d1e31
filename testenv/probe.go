package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// AppState is the part of a YARN application report that tests look at.
type AppState struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	User        string `json:"user"`
	State       string `json:"state"`
	FinalStatus string `json:"finalStatus"`
	Diagnostics string `json:"diagnostics"`
	TrackingURL string `json:"trackingUrl"`
}

// Terminal reports whether YARN has finished with the application.
func (a AppState) Terminal() bool {
	return a.State == "FINISHED" || a.State == "FAILED" || a.State == "KILLED"
}

// App reads one application report straight from the ResourceManager REST API.
func (c *Cluster) App(ctx context.Context, id string) (AppState, error) {
	var body struct {
		App AppState `json:"app"`
	}
	u := c.RMURL + "/ws/v1/cluster/apps/" + url.PathEscape(id)
	if err := c.getJSON(ctx, u, &body); err != nil {
		return AppState{}, err
	}
	return body.App, nil
}

// WaitApp polls the application report until the application is terminal or ctx ends.
func (c *Cluster) WaitApp(ctx context.Context, id string) (AppState, error) {
	for {
		a, err := c.App(ctx, id)
		if err == nil && a.Terminal() {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, fmt.Errorf("wait for %s (last state %q): %w", id, a.State, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// ClusterInfo returns the ResourceManager's /ws/v1/cluster/info object.
func (c *Cluster) ClusterInfo(ctx context.Context) (map[string]any, error) {
	var body struct {
		ClusterInfo map[string]any `json:"clusterInfo"`
	}
	if err := c.getJSON(ctx, c.RMURL+"/ws/v1/cluster/info", &body); err != nil {
		return nil, err
	}
	return body.ClusterInfo, nil
}

// WriteHDFS creates (or overwrites) an HDFS file over WebHDFS as the test user.
func (c *Cluster) WriteHDFS(ctx context.Context, path string, data []byte) error {
	hc, err := c.httpClient(ctx)
	if err != nil {
		return err
	}
	u := c.webHDFS(path, "CREATE", "overwrite=true")
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, nil)
	if err != nil {
		return err
	}
	// The NameNode answers 307 with the DataNode to send the data to; follow it by hand with the body.
	client := &http.Client{Transport: hc.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhdfs create %s: %w", path, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || loc == "" {
		return fmt.Errorf("webhdfs create %s: status %s, no redirect", path, resp.Status)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err = hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhdfs write %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("webhdfs write %s: %s: %s", path, resp.Status, b)
	}
	return nil
}

// ReadHDFS reads a whole HDFS file over WebHDFS as the test user.
func (c *Cluster) ReadHDFS(ctx context.Context, path string) ([]byte, error) {
	hc, err := c.httpClient(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.webHDFS(path, "OPEN", ""), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("webhdfs open %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("webhdfs read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("webhdfs open %s: %s: %s", path, resp.Status, b)
	}
	return b, nil
}

// HDFSStatus is what WebHDFS says of a path (GETFILESTATUS).
type HDFSStatus struct {
	PathSuffix string `json:"pathSuffix"`
	Owner      string `json:"owner"`
	Permission string `json:"permission"`
	Type       string `json:"type"`
	Length     int64  `json:"length"`
}

// ListHDFS lists an HDFS directory over WebHDFS as the test user (GETLISTSTATUS): each entry's status, its
// base name in PathSuffix.
func (c *Cluster) ListHDFS(ctx context.Context, path string) ([]HDFSStatus, error) {
	var out struct {
		FileStatuses struct {
			FileStatus []HDFSStatus `json:"FileStatus"`
		} `json:"FileStatuses"`
	}
	err := c.getJSON(ctx, c.webHDFS(path, "LISTSTATUS", ""), &out)
	return out.FileStatuses.FileStatus, err
}

// StatHDFS returns the status of an HDFS path over WebHDFS as the test user; the error wraps fs.ErrNotExist
// when it does not exist.
func (c *Cluster) StatHDFS(ctx context.Context, path string) (HDFSStatus, error) {
	var out struct {
		FileStatus HDFSStatus `json:"FileStatus"`
	}
	err := c.getJSON(ctx, c.webHDFS(path, "GETFILESTATUS", ""), &out)
	if err != nil && strings.Contains(err.Error(), "404 Not Found") {
		return HDFSStatus{}, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return out.FileStatus, err
}

// MkdirHDFS creates an HDFS directory (and its parents) with the octal permission perm over WebHDFS as the test
// user.
func (c *Cluster) MkdirHDFS(ctx context.Context, path, perm string) error {
	hc, err := c.httpClient(ctx)
	if err != nil {
		return err
	}
	for _, op := range []string{"MKDIRS", "SETPERMISSION"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.webHDFS(path, op, "permission="+perm), nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("webhdfs %s %s: %w", op, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhdfs %s %s: %s", op, path, resp.Status)
		}
	}
	return nil
}

// DeleteHDFS removes an HDFS path (recursively) over WebHDFS as the test user.
func (c *Cluster) DeleteHDFS(ctx context.Context, path string) error {
	hc, err := c.httpClient(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.webHDFS(path, "DELETE", "recursive=true"), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhdfs delete %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhdfs delete %s: %s", path, resp.Status)
	}
	return nil
}

// webHDFS is the URL of a WebHDFS operation as the test user: named by user.name on a simple cluster; on a
// Kerberized one authenticated by SPNEGO as the gateway's principal, acting for the user of As with doas.
func (c *Cluster) webHDFS(path, op, extra string) string {
	q := "op=" + op
	switch {
	case !c.Kerberos:
		q += "&user.name=" + url.QueryEscape(c.User)
	case c.asUser != "":
		q += "&doas=" + url.QueryEscape(c.asUser)
	}
	if extra != "" {
		q += "&" + extra
	}
	return c.WebHDFSURL + "/webhdfs/v1" + path + "?" + q
}

// ZooKeeperRUOK sends the four-letter word "ruok" and returns the answer ("imok" when healthy).
func (c *Cluster) ZooKeeperRUOK(ctx context.Context) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.ZooKeeper)
	if err != nil {
		return "", fmt.Errorf("dial zookeeper: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return "", fmt.Errorf("zookeeper ruok: %w", err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("zookeeper ruok: %w", err)
	}
	return string(b), nil
}

// FlinkCLIRun launches jar with Flink's own CLI from flinkHome in application mode on the test cluster
// (`flink run-application -t yarn-application` on 1.x, `flink run -t yarn-application` on 2.x) and returns the
// YARN application ID it printed. The CLI returns once YARN has deployed the cluster. On a Kerberized cluster it
// runs as the gateway's principal (see FlinkCLIRunAs).
func (c *Cluster) FlinkCLIRun(ctx context.Context, flinkHome, name string, jar string, args ...string) (string, error) {
	return c.FlinkCLIRunAs(ctx, c.GatewayLogin(), flinkHome, name, jar, args...)
}

// FlinkCLIRunAs is FlinkCLIRun as login's principal. On a Kerberized cluster Flink logs in from the keytab
// (security.kerberos.login.keytab and .principal, in the CLI, the JobManager and the TaskManagers, which get the
// keytab shipped), ships the cluster's krb5.conf to the containers (security.kerberos.krb5-conf.path) and
// obtains the HDFS delegation tokens the containers start with. On a simple cluster the application's user is the
// principal's short name, or the test user for a zero Login.
func (c *Cluster) FlinkCLIRunAs(ctx context.Context, login Login, flinkHome, name, jar string, args ...string) (string, error) {
	action := "run-application"
	if strings.Contains(filepath.Base(flinkHome), "flink-2") {
		action = "run"
	}
	cli := []string{action, "-t", "yarn-application",
		"-Djobmanager.memory.process.size=1024m", "-Dtaskmanager.memory.process.size=1024m",
		"-Dtaskmanager.numberOfTaskSlots=1", "-Dparallelism.default=1", "-Dyarn.application.name=" + name}
	user := c.User
	if login.Principal != "" {
		user = login.ShortName()
	}
	env := append(os.Environ(), c.envList()...)
	env = append(env, "HADOOP_USER_NAME="+user, "FLINK_HOME="+flinkHome)
	if c.Kerberos {
		cli = append(cli,
			"-Dsecurity.kerberos.login.keytab="+login.Keytab,
			"-Dsecurity.kerberos.login.principal="+login.Principal,
			"-Dsecurity.kerberos.login.use-ticket-cache=false",
			"-Dsecurity.kerberos.krb5-conf.path="+c.KRB5Conf)
		// The CLI's own JVM: bin/flink passes JVM_ARGS to java.
		env = append(env, "JVM_ARGS=-Djava.security.krb5.conf="+c.KRB5Conf)
	}
	cli = append(cli, jar)
	cmd := exec.CommandContext(ctx, filepath.Join(flinkHome, "bin", "flink"), append(cli, args...)...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Submitted application (application_\d+_\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		tail := out
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return "", fmt.Errorf("flink CLI (%s): %v\n%s", flinkHome, errors.Join(err, errNoAppID(m == nil)), tail)
	}
	return string(m[1]), nil
}

func errNoAppID(missing bool) error {
	if missing {
		return errors.New("no application id in the CLI output")
	}
	return nil
}

func (c *Cluster) envList() []string {
	list := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		list = append(list, k+"="+v)
	}
	return list
}

func (c *Cluster) getJSON(ctx context.Context, u string, v any) error {
	hc, err := c.httpClient(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("get %s: %s: %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", u, err)
	}
	return nil
}
