package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

// TestKerberizedCluster proves that a cluster started with `make cluster-up KERBEROS=1` is Kerberized end to end,
// with MIT Kerberos tools (kinit, curl --negotiate) and Hadoop's and Flink's own clients: every web endpoint wants
// SPNEGO, HDFS RPC and data transfer want Kerberos, the gateway's principal may act for end users, and Flink's CLI
// runs a job as an end user from that user's keytab.
func TestKerberizedCluster(t *testing.T) {
	c := testenv.RequireKerberos(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()

	dir := t.TempDir()
	gateway, err := c.Kinit(ctx, dir, c.GatewayLogin())
	if err != nil {
		t.Fatal(err)
	}
	alice, err := c.Kinit(ctx, dir, c.UserLogin("alice"))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := c.Kinit(ctx, dir, c.UserLogin("bob"))
	if err != nil {
		t.Fatal(err)
	}
	// An empty ticket cache: curl --negotiate then has nothing to offer.
	none := &testenv.Ticket{Principal: "nobody", CCache: "FILE:" + filepath.Join(dir, "empty.ccache")}

	// With RM HA, a standby redirects authenticated calls other than /ws/v1/cluster/info to the active RM.
	rms := strings.Split(c.Env["YARNGATE_RM_URLS"], ",")
	activeRM := rms[0]
	for _, rm := range rms {
		if _, body := curlNegotiate(ctx, t, c, gateway, http.MethodGet, rm+"/ws/v1/cluster/info"); strings.Contains(body, `"haState":"ACTIVE"`) {
			activeRM = rm
		}
	}

	t.Run("resourcemanager wants SPNEGO", func(t *testing.T) {
		for _, rm := range rms {
			u := rm + "/ws/v1/cluster/info"
			code, body := curlNegotiate(ctx, t, c, gateway, http.MethodGet, u)
			if code != http.StatusOK || !strings.Contains(body, `"clusterInfo"`) {
				t.Fatalf("curl --negotiate %s with a ticket: %d %s", u, code, body)
			}
			// A standby too: no redirect before authentication.
			if code, body := curlNegotiate(ctx, t, c, none, http.MethodGet, u); code != http.StatusUnauthorized {
				t.Fatalf("curl --negotiate %s without a ticket: %d, want 401: %s", u, code, body)
			}
			if code := plainStatus(ctx, t, http.MethodGet, u+"?user.name="+c.User); code != http.StatusUnauthorized {
				t.Fatalf("GET %s with user.name (simple auth): %d, want 401", u, code)
			}
		}
		// The gateway may act for alice (hadoop.proxyuser.<gateway>.*); bob may not.
		u := activeRM + "/ws/v1/cluster/apps/new-application?doAs=alice"
		if code, body := curlNegotiate(ctx, t, c, gateway, http.MethodPost, u); code != http.StatusOK {
			t.Fatalf("POST %s as the gateway: %d, want 200: %s", u, code, body)
		}
		if code, body := curlNegotiate(ctx, t, c, bob, http.MethodPost, u); code != http.StatusForbidden {
			t.Fatalf("POST %s as bob: %d, want 403: %s", u, code, body)
		}
	})

	t.Run("nodemanager wants SPNEGO", func(t *testing.T) {
		code, body := curlNegotiate(ctx, t, c, gateway, http.MethodGet, activeRM+"/ws/v1/cluster/nodes")
		if code != http.StatusOK {
			t.Fatalf("nodes: %d %s", code, body)
		}
		var nodes struct {
			Nodes struct {
				Node []struct {
					NodeHTTPAddress string `json:"nodeHTTPAddress"`
				} `json:"node"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(body), &nodes); err != nil || len(nodes.Nodes.Node) == 0 {
			t.Fatalf("nodes: %v: %s", err, body)
		}
		u := "http://" + nodes.Nodes.Node[0].NodeHTTPAddress + "/ws/v1/node/info"
		if code, body := curlNegotiate(ctx, t, c, gateway, http.MethodGet, u); code != http.StatusOK {
			t.Fatalf("curl --negotiate %s with a ticket: %d %s", u, code, body)
		}
		if code, _ := curlNegotiate(ctx, t, c, none, http.MethodGet, u); code != http.StatusUnauthorized {
			t.Fatalf("curl --negotiate %s without a ticket: %d, want 401", u, code)
		}
	})

	t.Run("webhdfs wants SPNEGO", func(t *testing.T) {
		u := c.WebHDFSURL + "/webhdfs/v1/user?op=LISTSTATUS"
		if code, body := curlNegotiate(ctx, t, c, gateway, http.MethodGet, u); code != http.StatusOK {
			t.Fatalf("curl --negotiate %s with a ticket: %d %s", u, code, body)
		}
		if code, _ := curlNegotiate(ctx, t, c, none, http.MethodGet, u); code != http.StatusUnauthorized {
			t.Fatalf("curl --negotiate %s without a ticket: %d, want 401", u, code)
		}
		if code := plainStatus(ctx, t, http.MethodGet, u+"&user.name="+c.User); code != http.StatusUnauthorized {
			t.Fatalf("GET %s with user.name (simple auth): %d, want 401", u, code)
		}

		// A file alice owns, written by the gateway's principal acting for her (doas=alice).
		path := fmt.Sprintf("/user/alice/testenv-krb-%d", rand.Int64())
		asAlice := c.As("alice")
		if err := asAlice.WriteHDFS(ctx, path, []byte("written for alice\n")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = asAlice.DeleteHDFS(context.Background(), path) })
		u = c.WebHDFSURL + "/webhdfs/v1" + path + "?op=GETFILESTATUS"
		code, body := curlNegotiate(ctx, t, c, alice, http.MethodGet, u)
		if code != http.StatusOK || !strings.Contains(body, `"owner":"alice"`) {
			t.Fatalf("status of %s as alice: %d %s, want owner alice", path, code, body)
		}
		// bob may not act for alice.
		u = c.WebHDFSURL + "/webhdfs/v1" + path + "?op=GETFILESTATUS&doas=alice"
		if code, body := curlNegotiate(ctx, t, c, bob, http.MethodGet, u); code != http.StatusForbidden {
			t.Fatalf("bob with doas=alice: %d, want 403: %s", code, body)
		}
	})

	t.Run("hdfs rpc and data transfer want Kerberos", func(t *testing.T) {
		// Hadoop's own client: Kerberos on NameNode RPC, SASL on the DataNode's data transfer.
		path := fmt.Sprintf("/user/alice/testenv-rpc-%d", rand.Int64())
		want := []byte("through hadoop rpc\n")
		if _, err := c.HadoopFS(ctx, alice, want, "-put", "-", path); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = c.HadoopFS(context.Background(), alice, nil, "-rm", "-skipTrash", path) })
		got, err := c.HadoopFS(ctx, alice, nil, "-cat", path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read back %q, want %q", got, want)
		}
		_, err = c.HadoopFS(ctx, nil, nil, "-ls", "/user")
		if err == nil || !strings.Contains(err.Error(), "Client cannot authenticate via:[TOKEN, KERBEROS]") {
			t.Fatalf("hdfs dfs -ls without a ticket: %v, want a Kerberos authentication failure", err)
		}
	})

	t.Run("flink cli as alice from her keytab", func(t *testing.T) {
		out := fmt.Sprintf("/user/alice/testenv-krb-cli-%d", rand.Int64())
		t.Cleanup(func() { _ = c.As("alice").DeleteHDFS(context.Background(), out) })
		const n = 1000
		appID, err := c.FlinkCLIRunAs(ctx, c.UserLogin("alice"), c.FlinkHome, "testenv-krb-cli", c.ExampleJar,
			"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out)
		if err != nil {
			t.Fatal(err)
		}
		app, err := c.WaitApp(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if app.State != "FINISHED" || app.FinalStatus != "SUCCEEDED" {
			t.Fatalf("%s ended %s/%s: %s", appID, app.State, app.FinalStatus, app.Diagnostics)
		}
		if app.User != "alice" {
			t.Errorf("%s is owned by %q, want alice", appID, app.User)
		}
		got, err := c.ReadHDFS(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("count=%d sum=%d", n, n*(n+1)*(2*n+1)/6); strings.TrimSpace(string(got)) != want {
			t.Fatalf("output %q, want %q", got, want)
		}
		// The JobManager logged in from the keytab Flink shipped (not only from the delegation tokens).
		logs, _ := filepath.Glob(filepath.Join(c.Env["YARNGATE_CLUSTER_RUN_DIR"], "hadoop", "nm-logs", appID, "*", "jobmanager.log"))
		if len(logs) == 0 {
			t.Fatalf("no jobmanager.log of %s in the NodeManager's log dirs", appID)
		}
		jm, err := os.ReadFile(logs[0])
		if err != nil {
			t.Fatal(err)
		}
		if want := "Login successful for user alice@" + c.Realm + " using keytab file"; !bytes.Contains(jm, []byte(want)) {
			t.Errorf("%s does not say %q", logs[0], want)
		}
	})
}

// curlNegotiate runs `curl --negotiate -u : -X method u` with the ticket's cache and returns the status and body.
func curlNegotiate(ctx context.Context, t *testing.T, c *testenv.Cluster, tk *testenv.Ticket, method, u string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "curl", "-sS", "--negotiate", "-u", ":", "-X", method, "-m", "30",
		"-w", "\n%{http_code}", u)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+c.KRB5Conf, "KRB5CCNAME="+tk.CCache)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s %s: %v", method, u, err)
	}
	i := bytes.LastIndexByte(out, '\n')
	var status int
	if _, err := fmt.Sscan(string(out[i+1:]), &status); i < 0 || err != nil {
		t.Fatalf("curl %s %s: no status in %q", method, u, out)
	}
	return status, string(out[:i])
}

// plainStatus makes a request with no credentials at all (Go's client) and returns the status.
func plainStatus(ctx context.Context, t *testing.T, method, u string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
