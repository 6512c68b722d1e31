package delegation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrRefused: the NameNode answered but would not issue the token (the gateway may not impersonate the
// user, or is not authenticated by Kerberos). Retrying does not help.
var ErrRefused = errors.New("the NameNode refused the delegation token")

// Options configure a Fetcher.
type Options struct {
	// NameNodes are the WebHDFS base URLs of the NameNodes serving the default file system (with HA, all of
	// them: a standby refuses and the next is asked). Required.
	NameNodes []string
	// HTTPClient authenticates to the NameNodes (SPNEGO). Required.
	HTTPClient *http.Client
	// Renewer is the short name of the ResourceManager's principal: the ResourceManager renews the tokens
	// of the applications it runs, and rejects an application whose token it may not renew. Required.
	Renewer string
	// Service, when set, replaces the token's service: ha-hdfs:<nameservice> on an HA file system, which is
	// what clients configured for that nameservice select. Empty keeps the NameNode's choice (its RPC
	// address), right for a file system of one NameNode.
	Service string
	// LoginUser is the short name of the gateway's own principal: tokens for it are fetched without doas.
	LoginUser string
	// Timeout bounds one NameNode call. Default 15s.
	Timeout time.Duration
}

// Fetcher fetches HDFS delegation tokens from WebHDFS (op=GETDELEGATIONTOKEN), for the gateway's own user
// or, as a proxy user (doas), for another. Safe for concurrent use.
type Fetcher struct {
	opts Options
}

// NewFetcher checks opts.
func NewFetcher(opts Options) (*Fetcher, error) {
	if len(opts.NameNodes) == 0 || opts.HTTPClient == nil || opts.Renewer == "" {
		return nil, errors.New("delegation: NameNodes, HTTPClient and Renewer are required")
	}
	for _, nn := range opts.NameNodes {
		if u, err := url.Parse(nn); err != nil || u.Host == "" {
			return nil, fmt.Errorf("delegation: NameNode URL %q is not absolute", nn)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	return &Fetcher{opts: opts}, nil
}

// Renewer returns the renewer the tokens name.
func (f *Fetcher) Renewer() string { return f.opts.Renewer }

// HDFSToken returns a new HDFS delegation token owned by user and renewable by the ResourceManager. The
// NameNodes are asked in order until one issues it.
func (f *Fetcher) HDFSToken(ctx context.Context, user string) (Token, error) {
	if user == "" {
		return Token{}, errors.New("delegation: no user")
	}
	var errs []error
	for _, nn := range f.opts.NameNodes {
		t, err := f.fetch(ctx, nn, user)
		if err == nil {
			return t, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return Token{}, fmt.Errorf("hdfs delegation token for %s: %w", user, errors.Join(errs...))
}

func (f *Fetcher) fetch(ctx context.Context, nn, user string) (Token, error) {
	q := url.Values{"op": {"GETDELEGATIONTOKEN"}, "renewer": {f.opts.Renewer}, "kind": {KindHDFS}}
	if f.opts.Service != "" {
		q.Set("service", f.opts.Service)
	}
	if user != f.opts.LoginUser {
		q.Set("doas", user)
	}
	endpoint := strings.TrimRight(nn, "/") + "/webhdfs/v1/?" + q.Encode()
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", nn, err)
	}
	resp, err := f.opts.HTTPClient.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", nn, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Token{}, fmt.Errorf("%s: read answer: %w", nn, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, fmt.Errorf("%s: %w", nn, remoteError(resp.StatusCode, body))
	}
	var answer struct {
		Token struct {
			URLString string `json:"urlString"`
		} `json:"Token"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Token.URLString == "" {
		return Token{}, fmt.Errorf("%s: answer without a token (%d bytes)", nn, len(body))
	}
	t, err := Decode(answer.Token.URLString)
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", nn, err)
	}
	if t.Kind != KindHDFS || t.Owner != user || t.Renewer != f.opts.Renewer {
		return Token{}, fmt.Errorf("%s: issued %s, want %s of %s renewable by %s", nn, t, KindHDFS, user, f.opts.Renewer)
	}
	return t, nil
}

// remoteError describes a WebHDFS error answer ({"RemoteException": {"exception", "message"}}): a standby
// NameNode, a refusal (403: impersonation not allowed, not authenticated by Kerberos), or another failure.
func remoteError(status int, body []byte) error {
	var re struct {
		RemoteException struct {
			Exception string `json:"exception"`
			Message   string `json:"message"`
		} `json:"RemoteException"`
	}
	_ = json.Unmarshal(body, &re)
	msg := fmt.Sprintf("HTTP %d", status)
	if e := re.RemoteException; e.Exception != "" {
		first, _, _ := strings.Cut(e.Message, "\n")
		msg += ": " + e.Exception + ": " + first
	}
	if (status == http.StatusForbidden || status == http.StatusUnauthorized) && re.RemoteException.Exception != "StandbyException" {
		return fmt.Errorf("%w: %s", ErrRefused, msg)
	}
	return errors.New(msg)
}
