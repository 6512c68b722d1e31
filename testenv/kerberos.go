package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Login names a Kerberos principal and the keytab that holds its key.
type Login struct {
	// Principal is the full principal name, such as alice@EXAMPLE.COM.
	Principal string
	// Keytab is the keytab file with the principal's key.
	Keytab string
}

// ShortName is the principal's first component, which Hadoop's default auth_to_local rule maps it to: alice for
// alice@EXAMPLE.COM, hdfs for hdfs/localhost@EXAMPLE.COM.
func (l Login) ShortName() string {
	name, _, _ := strings.Cut(l.Principal, "@")
	name, _, _ = strings.Cut(name, "/")
	return name
}

// GatewayLogin returns the gateway's principal and keytab (zero on a cluster that is not Kerberized).
func (c *Cluster) GatewayLogin() Login {
	return Login{Principal: c.Principal, Keytab: c.Keytab}
}

// UserLogin returns an end user's principal (alice or bob) with the user keytab, which holds both.
func (c *Cluster) UserLogin(name string) Login {
	return Login{Principal: name + "@" + c.Realm, Keytab: c.UserKeytab}
}

// Ticket is an MIT ticket cache (a file) that holds one principal's ticket-granting ticket, as kinit leaves it.
// Processes given its Env (curl --negotiate, Hadoop's Java client) authenticate as that principal.
type Ticket struct {
	// Principal is whose ticket it is.
	Principal string
	// CCache is the ticket cache, FILE:<path>.
	CCache string

	krb5Conf string
	obtained time.Time
}

// Kinit logs login's principal in from its keytab with MIT kinit (Debian krb5-user; cluster.sh installs it when
// it starts a Kerberized cluster) into a ticket cache of its own in dir.
func (c *Cluster) Kinit(ctx context.Context, dir string, login Login) (*Ticket, error) {
	if !c.Kerberos {
		return nil, errors.New("kinit: the test cluster is not Kerberized")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kinit %s: %w", login.Principal, err)
	}
	name := strings.NewReplacer("/", "_", "@", "_").Replace(login.Principal)
	t := &Ticket{
		Principal: login.Principal,
		CCache:    "FILE:" + filepath.Join(dir, fmt.Sprintf("%s-%d.ccache", name, os.Getpid())),
		krb5Conf:  c.KRB5Conf,
		obtained:  time.Now(),
	}
	cmd := exec.CommandContext(ctx, "kinit", "-kt", login.Keytab, login.Principal)
	cmd.Env = append(os.Environ(), t.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			err = fmt.Errorf("%w (install the MIT client tools: testenv/install-krb5.sh)", err)
		}
		return nil, fmt.Errorf("kinit %s: %w: %s", login.Principal, err, bytes.TrimSpace(out))
	}
	return t, nil
}

// Env returns the environment a process needs to use the ticket: the cluster's krb5.conf and the ticket cache.
// (JVMs also need -Djava.security.krb5.conf; they take the cache from KRB5CCNAME.)
func (t *Ticket) Env() []string {
	return []string{"KRB5_CONFIG=" + t.krb5Conf, "KRB5CCNAME=" + t.CCache}
}

// Valid reports whether the cache holds a ticket that has not expired (klist -s).
func (t *Ticket) Valid(ctx context.Context) bool {
	cmd := exec.CommandContext(ctx, "klist", "-s")
	cmd.Env = append(os.Environ(), t.Env()...)
	return cmd.Run() == nil
}

// HTTPClient returns a client whose requests curl makes with SPNEGO (curl --negotiate -u :) from the ticket, the
// way a Hadoop user reaches Kerberized web endpoints. A nil ticket makes the same requests with no credentials.
// Redirects are followed as by any http.Client; each hop authenticates again when challenged.
func (t *Ticket) HTTPClient() *http.Client {
	return &http.Client{Transport: curlTransport{ticket: t}}
}

// curlTransport is an http.RoundTripper that runs curl, so that SPNEGO comes from MIT Kerberos (GSS-API) and not
// from the Go code under test.
type curlTransport struct {
	ticket *Ticket
}

func (ct curlTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	dir, err := os.MkdirTemp("", "yarngate-curl-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	headers, body := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	args := []string{"-sS", "-X", req.Method, "-D", headers, "-o", body}
	if ct.ticket != nil {
		args = append(args, "--negotiate", "-u", ":")
	}
	if dl, ok := req.Context().Deadline(); ok {
		args = append(args, "--max-time", strconv.FormatFloat(max(time.Until(dl).Seconds(), 0.1), 'f', 1, 64))
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		in := filepath.Join(dir, "request")
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(in, b, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--data-binary", "@"+in)
		if req.Header.Get("Content-Type") == "" {
			args = append(args, "-H", "Content-Type:") // curl would send a form content type
		}
	}
	args = append(args, req.URL.String())
	cmd := exec.CommandContext(req.Context(), "curl", args...)
	cmd.Env = os.Environ()
	if ct.ticket != nil {
		cmd.Env = append(cmd.Env, ct.ticket.Env()...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("curl %s %s: %w: %s", req.Method, req.URL.Redacted(), err, bytes.TrimSpace(out))
	}
	raw, err := os.ReadFile(headers)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(body)
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no file when the response has no body
		return nil, err
	}
	return lastResponse(raw, data, req)
}

// lastResponse builds the response from the last header block curl dumped (after a 401 challenge curl dumps the
// challenge's headers too) and the body, which curl has already decoded.
func lastResponse(headers, body []byte, req *http.Request) (*http.Response, error) {
	i := bytes.LastIndex(headers, []byte("\nHTTP/"))
	if i >= 0 {
		headers = headers[i+1:]
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(headers)))
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("curl %s: no status line: %w", req.URL.Redacted(), err)
	}
	proto, status, _ := strings.Cut(line, " ")
	code, err := strconv.Atoi(strings.SplitN(status, " ", 2)[0])
	if err != nil {
		return nil, fmt.Errorf("curl %s: status line %q", req.URL.Redacted(), line)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("curl %s: headers: %w", req.URL.Redacted(), err)
	}
	h := http.Header(mh)
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	return &http.Response{
		Status: status, StatusCode: code, Proto: proto, ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// ticketCaches holds the gateway's ticket that the Cluster's helpers authenticate with on a Kerberized cluster.
type ticketCaches struct {
	mu      sync.Mutex
	gateway *Ticket
}

// ticketReuse is how long GatewayTicket hands out the same ticket.
const ticketReuse = 30 * time.Second

// GatewayTicket returns a valid ticket for the gateway's principal, from kinit with its keytab the first time and
// whenever the last one expired. The cache lives in the cluster's run directory, beside krb5.conf.
func (c *Cluster) GatewayTicket(ctx context.Context) (*Ticket, error) {
	c.tickets.mu.Lock()
	defer c.tickets.mu.Unlock()
	// A ticket is used for at most ticketReuse after kinit, so that whoever takes it has most of its life
	// ahead (the private Kerberized cluster's KDC issues tickets of two minutes).
	if t := c.tickets.gateway; t != nil && time.Since(t.obtained) < ticketReuse && t.Valid(ctx) {
		return t, nil
	}
	t, err := c.Kinit(ctx, filepath.Join(filepath.Dir(c.KRB5Conf), "ccache"), c.GatewayLogin())
	if err != nil {
		return nil, err
	}
	c.tickets.gateway = t
	return t, nil
}

// httpClient is the client the helpers use: Go's default client on a simple cluster, curl with SPNEGO as the
// gateway's principal on a Kerberized one.
func (c *Cluster) httpClient(ctx context.Context) (*http.Client, error) {
	if !c.Kerberos {
		return http.DefaultClient, nil
	}
	t, err := c.GatewayTicket(ctx)
	if err != nil {
		return nil, err
	}
	return t.HTTPClient(), nil
}

// As returns a copy of c whose WebHDFS helpers act as user: user.name=<user> on a simple cluster; on a Kerberized
// one the gateway's principal acts for the user (doas=<user>), as the cluster's proxy-user rules allow.
func (c *Cluster) As(user string) *Cluster {
	cp := *c
	cp.User = user
	cp.asUser = user
	return &cp
}

// HadoopFS runs Hadoop's own file system shell (`hdfs dfs ARGS...`: org.apache.hadoop.fs.FsShell, from the jars
// of the cluster's Hadoop) with the cluster's client configuration: HDFS RPC and, for data, the DataNode's
// transfer protocol. On a Kerberized cluster the ticket (nil: none) is the only credential. stdin feeds `-put -`.
func (c *Cluster) HadoopFS(ctx context.Context, t *Ticket, stdin []byte, args ...string) ([]byte, error) {
	java := filepath.Join(c.JavaHome, "bin", "java")
	jvm := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	if c.Kerberos {
		jvm = append(jvm, "-Djava.security.krb5.conf="+c.KRB5Conf)
	}
	jvm = append(jvm, "-cp", c.HadoopConfDir+string(os.PathListSeparator)+c.Env["HADOOP_CLASSPATH"],
		"org.apache.hadoop.fs.FsShell")
	cmd := exec.CommandContext(ctx, java, append(jvm, args...)...)
	cmd.Env = os.Environ()
	switch {
	case !c.Kerberos:
		cmd.Env = append(cmd.Env, "HADOOP_USER_NAME="+c.User)
	case t != nil:
		cmd.Env = append(cmd.Env, t.Env()...)
	default: // an empty ticket cache: no credentials at all
		cmd.Env = append(cmd.Env, "KRB5_CONFIG="+c.KRB5Conf, "KRB5CCNAME=FILE:"+filepath.Join(os.TempDir(), "yarngate-no-ticket"))
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("hdfs dfs %s: %w: %s", strings.Join(args, " "), err, lastLines(stderr.Bytes(), 5))
	}
	return stdout.Bytes(), nil
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}
