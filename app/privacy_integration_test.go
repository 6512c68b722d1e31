package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/jarfile/jartest"
	"github.com/yarngate/yarngate/kerberos"
	"github.com/yarngate/yarngate/testenv"
)

// offersPrivacy skips the test unless the cluster's DataNode offers privacy first
// (YARNGATE_TE_DATA_TRANSFER_PROTECTION=privacy,authentication, as the private Kerberized cluster does).
func offersPrivacy(t *testing.T, c *testenv.Cluster) {
	t.Helper()
	if !strings.HasPrefix(c.Env["YARNGATE_DATA_TRANSFER_PROTECTION"], "privacy") {
		t.Skipf("the DataNode offers %q, not privacy first", c.Env["YARNGATE_DATA_TRANSFER_PROTECTION"])
	}
}

// colinmarcPrivacyReads proves what the WebHDFS data path is for: colinmarc's own client, which negotiates the
// DataNode's first offer (privacy here), writes a file but cannot read it back. Should colinmarc one day read
// under privacy, this fails, and the privacy subtest below no longer proves the fallback.
func colinmarcPrivacyReads(t *testing.T, c *testenv.Cluster) {
	offersPrivacy(t, c)
	login, err := kerberos.New(kerberos.Options{Principal: c.Principal, Keytab: c.Keytab, Krb5Conf: c.KRB5Conf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { login.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-login.FirstAttempt()
	cl, err := login.Client()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: []string{c.Env["YARNGATE_NAMENODE"]}, KerberosClient: cl,
		KerberosServicePrincipleName: "hdfs/_HOST", DataTransferProtection: "privacy"})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	name := "/user/" + c.User + "/.yarngate-privacy-" + rand.Text()
	defer fs.Remove(name)
	data := make([]byte, 4<<20)
	rand.Read(data)
	w, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("colinmarc write under privacy: %v", err)
	}
	for attempt := 0; ; attempt++ {
		if err = w.Close(); err == nil || !gohdfs.IsErrReplicating(err) || attempt == 8 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("colinmarc write under privacy: close: %v", err)
	}
	r, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetDeadline(time.Now().Add(time.Minute))
	got, err := io.ReadAll(r)
	if err == nil && bytes.Equal(got, data) {
		t.Fatalf("colinmarc read %d bytes back under privacy: its SASL read bug is gone, the WebHDFS path is not needed", len(got))
	}
	t.Logf("colinmarc under privacy: 4 MiB written; reading back fails after %d bytes: %v", len(got), err)
}

// privacyGateway starts a gateway whose hdfs-site.xml says dfs.data.transfer.protection=privacy and uploads a
// jar: the DataNode transfers are private (colinmarc's writes), the upload's read-back goes through WebHDFS
// (colinmarc's reads would fail, as colinmarcPrivacyReads shows), and the staged jar is read back intact.
func privacyGateway(t *testing.T, c *testenv.Cluster) {
	offersPrivacy(t, c)
	confDir := t.TempDir()
	for _, name := range []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"} {
		b, err := os.ReadFile(filepath.Join(c.HadoopConfDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "hdfs-site.xml" {
			re := regexp.MustCompile(`(<name>dfs.data.transfer.protection</name>\s*<value>)[^<]*(</value>)`)
			if !re.Match(b) {
				t.Fatalf("%s has no dfs.data.transfer.protection", name)
			}
			b = re.ReplaceAll(b, []byte("${1}privacy${2}"))
		}
		if err := os.WriteFile(filepath.Join(confDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := kerberosConfig(t, c, c.Keytab)
	cfg.HadoopConfDir = confDir
	logs := &lockedBuffer{}
	r := startLogged(t, cfg, logs)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		status, body := get(t, r.url+"/readyz")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz = %d %s", status, body)
		}
	}
	if !strings.Contains(logs.String(), "hdfs data path: file content read through WebHDFS") {
		t.Errorf("no start-up line about the WebHDFS data path in:\n%s", logs.String())
	}
	data := jartest.Bytes(t, jartest.Options{MainClass: "com.example.Private", PayloadSize: 3 << 20, Seed: 99})
	began := time.Now()
	status, created, body := post(t, r.url+"/v1/jars?name=private.jar", "application/java-archive", bytes.NewReader(data))
	if status != 201 || created.Size != int64(len(data)) || created.MainClass == nil || *created.MainClass != "com.example.Private" {
		t.Fatalf("upload under privacy = %d %s", status, body)
	}
	t.Logf("3 MiB jar staged under privacy (written over SASL privacy, inspected through WebHDFS) in %v", time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	defer c.DeleteHDFS(context.WithoutCancel(ctx), cfg.HDFS.StagingRoot)
	path := strings.TrimPrefix(created.Path, strings.TrimRight(c.Env["YARNGATE_HDFS_URL"], "/"))
	staged, err := c.ReadHDFS(ctx, path)
	if err != nil || !bytes.Equal(staged, data) {
		t.Errorf("the staged jar read back (%d bytes, %v) differs from the upload", len(staged), err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
