// Package hdfs stages job jars in HDFS, content-addressed by SHA-256, over github.com/colinmarc/hdfs/v2.
//
// Layout under the staging root:
//
//	<root>/tmp/<random>          uploads in progress
//	<root>/jars/<sha256>.jar     staged jars, mode 0644 in 0755 directories (YARN PUBLIC localisation)
//
// The original file name and the manifest's Main-Class are kept as the extended attributes
// user.yarngate.name and user.yarngate.mainClass of the staged file; its modification time is the jar's
// creation time and the timestamp YARN checks when localising it.
//
// An upload streams the body into a temporary file while hashing it, enforcing the size limit as it goes,
// then validates the temporary file by reading it back (package jarfile) and commits it. colinmarc's Rename
// always overwrites its destination (it sends rename2 with OverwriteDest), which would swap a staged jar for
// a copy with another mtime under the feet of running YARN applications. So a commit first claims the final
// name with an exclusive create of an empty file (the NameNode lets exactly one create win), and only the
// winner renames its temporary file over its own empty claim. A loser drops its temporary file and reports
// the existing jar once the winner's rename has landed. Empty files in jars/ are therefore claims in
// progress and are invisible to List, Get and Delete; a claim left by a crashed process is removed by
// CleanTemp once older than its age limit.
//
// On a Kerberized cluster (Options.Kerberos) the clients authenticate to the NameNode with the gateway's
// Kerberos ticket and protect DataNode transfers with SASL, choosing the first protection of the client's
// list that the DataNode offers, as Hadoop's client does (colinmarc alone takes the DataNode's first offer).
// colinmarc v2.4.0 writes with any protection but cannot read from DataNodes under integrity or privacy (it
// drops bytes when a read spans two SASL frames). On such clusters (ReadsNeedWebHDFS) the Store reads file
// content through WebHDFS (Options.WebHDFS, package webhdfs) and everything else, writes included, through
// colinmarc; every read goes through one seam (openContent in content.go), so callers do not care.
//
// colinmarc's client takes no context and is not safe for concurrent use, so the Store keeps a small pool of
// clients (one goroutine each at a time), dials with timeouts, bounds every NameNode read and write, sets
// deadlines on file readers and writers, and checks the context between steps. A client that saw a
// transport error is closed rather than reused.
//
// Dependency rule: hdfs is a client package. It imports jarfile, its webhdfs and colinmarc/hdfs, never the HTTP layer;
// the service layer in package job consumes it through a small interface.
package hdfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/yarngate/yarngate/hdfs/webhdfs"
)

// Errors returned by the Store. They are wrapped with an operation phrase; test with errors.Is.
var (
	// ErrNotFound means no staged jar has the requested id.
	ErrNotFound = errors.New("jar not found")
	// ErrInvalidID means an id is not a lower-case hex SHA-256.
	ErrInvalidID = errors.New("invalid jar id")
	// ErrTooLarge means an upload exceeded Options.MaxSize.
	ErrTooLarge = errors.New("jar too large")
	// ErrInvalidJar means an upload is not a usable jar; the jarfile error that says why is wrapped too.
	ErrInvalidJar = errors.New("invalid jar")
	// ErrUnavailable means HDFS could not be reached or a connection failed.
	ErrUnavailable = errors.New("hdfs unavailable")
	// ErrBusy means another upload of the same content held the final name for longer than ClaimWait.
	ErrBusy = errors.New("jar is being committed by another upload")
	// ErrClosed means the Store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrNoUploadSlot means every upload slot stayed taken for Options.UploadWait.
	ErrNoUploadSlot = errors.New("no free upload slot")
)

// Extended attribute names on staged jars.
const (
	xattrName      = "user.yarngate.name"
	xattrMainClass = "user.yarngate.mainClass"
)

// maxNameLen bounds the stored original file name, well within the NameNode's xattr size limit.
const maxNameLen = 1024

// Options configures a Store.
type Options struct {
	// Addresses are the NameNode RPC addresses (host:port) of one nameservice, in failover order.
	Addresses []string
	// FSURI is the file system URI prefixed to staged paths, such as hdfs://mycluster. Default:
	// hdfs://<first address>.
	FSURI string
	// User is the HDFS user (simple authentication). With Kerberos the principal is the user.
	User string
	// Kerberos, when set, authenticates to the NameNodes with Kerberos and protects DataNode transfers with
	// SASL (hadoop.security.authentication=kerberos).
	Kerberos *Kerberos
	// WebHDFS, when set, is the client the Store reads file content through instead of reading blocks from
	// the DataNodes. It is required when ReadsNeedWebHDFS(Kerberos.DataTransferProtection).
	WebHDFS *webhdfs.Client
	// ActAs, on a Kerberized cluster, is the WebHDFS client operations for other users go through
	// (AsUser; doas=<user>, the gateway's principal a proxy user on the NameNode). Nil: none can.
	ActAs *webhdfs.Client
	// Root is the absolute staging root directory.
	Root string
	// MaxSize is the largest accepted jar in bytes.
	MaxSize int64
	// DialTimeout bounds connecting to a NameNode or DataNode. Default 10s.
	DialTimeout time.Duration
	// IOTimeout bounds each read or write on an HDFS connection. Default 60s.
	IOTimeout time.Duration
	// PoolSize is the number of HDFS clients of everything but uploads (reads, launches, the reconciler).
	// Default 8.
	PoolSize int
	// UploadSlots is the number of HDFS clients of uploads (Put), a pool of their own: uploads as slow as
	// their senders never hold a client the rest of the gateway needs. Default 4.
	UploadSlots int
	// UserSlots is the number of HDFS clients acting as other users (AsUser; simple authentication only),
	// a pool of its own. Default 2.
	UserSlots int
	// UploadWait is how long Put waits for a free upload slot before it fails with ErrNoUploadSlot.
	// Default 10s.
	UploadWait time.Duration
	// ClaimWait is how long an upload waits for a concurrent upload of the same content to finish
	// committing. Default 30s.
	ClaimWait time.Duration
	// UseDatanodeHostname connects to DataNodes by host name instead of IP (dfs.client.use.datanode.hostname).
	UseDatanodeHostname bool
	// Logger receives warnings about clean-up. Default: discard.
	Logger *slog.Logger
}

// Kerberos configures Kerberos authentication.
type Kerberos struct {
	// Client returns the current logged-in gokrb5 client (package kerberos). A different pointer means new
	// credentials: pooled HDFS clients dialled with the old ones are then replaced as they come back idle.
	Client func() (*krb.Client, error)
	// ServicePrincipal is the NameNodes' principal without the realm, such as hdfs/_HOST (from
	// dfs.namenode.kerberos.principal); _HOST stands for the host of the NameNode address dialled.
	ServicePrincipal string
	// DataTransferProtection lists the SASL protections of DataNode transfers the client accepts, in its
	// order of preference: authentication, integrity, privacy (dfs.data.transfer.protection; privacy with
	// dfs.encrypt.data.transfer); empty for none. The first one the DataNode offers is negotiated.
	DataTransferProtection []string
}

func (o *Options) setDefaults() {
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.IOTimeout == 0 {
		o.IOTimeout = 60 * time.Second
	}
	if o.PoolSize == 0 {
		o.PoolSize = 8
	}
	if o.UploadSlots == 0 {
		o.UploadSlots = 4
	}
	if o.UserSlots == 0 {
		o.UserSlots = 2
	}
	if o.UploadWait == 0 {
		o.UploadWait = 10 * time.Second
	}
	if o.ClaimWait == 0 {
		o.ClaimWait = 30 * time.Second
	}
	if o.FSURI == "" && len(o.Addresses) > 0 {
		o.FSURI = "hdfs://" + o.Addresses[0]
	}
	o.FSURI = strings.TrimSuffix(o.FSURI, "/")
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Addresses) == 0 {
		errs = append(errs, errors.New("no NameNode addresses"))
	}
	if o.User == "" {
		errs = append(errs, errors.New("no user"))
	}
	if !path.IsAbs(o.Root) || path.Clean(o.Root) != o.Root || o.Root == "/" {
		errs = append(errs, fmt.Errorf("staging root %q is not a clean absolute path below /", o.Root))
	}
	if o.MaxSize <= 0 {
		errs = append(errs, errors.New("max size must be positive"))
	}
	if o.DialTimeout < 0 || o.IOTimeout < 0 || o.ClaimWait < 0 || o.PoolSize < 0 || o.UploadSlots < 0 || o.UserSlots < 0 || o.UploadWait < 0 {
		errs = append(errs, errors.New("timeouts, pool size and upload slots must not be negative"))
	}
	if k := o.Kerberos; k != nil {
		if k.Client == nil {
			errs = append(errs, errors.New("kerberos: no client"))
		}
		if k.ServicePrincipal == "" {
			errs = append(errs, errors.New("kerberos: no NameNode service principal"))
		}
		for _, p := range k.DataTransferProtection {
			if _, ok := saslQOPs[p]; !ok {
				errs = append(errs, fmt.Errorf("kerberos: data transfer protection %q is none of authentication, integrity, privacy", p))
			}
		}
		if need, why := ReadsNeedWebHDFS(k.DataTransferProtection); need && o.WebHDFS == nil {
			errs = append(errs, fmt.Errorf("kerberos: no WebHDFS client to read with: %s", why))
		}
	}
	return errors.Join(errs...)
}

// Store stages jars under a root directory in HDFS. It is safe for concurrent use.
type Store struct {
	opts    Options
	tmpDir  string
	jarsDir string
	// pool serves everything but uploads; uploads serves Put alone (Options.UploadSlots); users serves
	// operations for other users (Options.UserSlots), dialled from clientOpts.
	pool       *pool[*gohdfs.Client]
	uploads    *pool[*gohdfs.Client]
	users      *pool[*gohdfs.Client]
	clientOpts gohdfs.ClientOptions
	// web is the WebHDFS client file content is read through, or nil to read blocks with colinmarc.
	web *webhdfs.Client
}

// New returns a Store. It does not connect: clients are dialled on first use, so a gateway can start (and
// report itself not ready) while HDFS is down.
func New(opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("hdfs store options: %w", err)
	}
	var accept []string
	if opts.Kerberos != nil {
		accept = opts.Kerberos.DataTransferProtection
	}
	nnDial, dnDial := dialers(opts.DialTimeout, opts.IOTimeout, accept)
	clientOpts := gohdfs.ClientOptions{
		Addresses:           opts.Addresses,
		User:                opts.User,
		UseDatanodeHostname: opts.UseDatanodeHostname,
		NamenodeDialFunc:    nnDial,
		DatanodeDialFunc:    dnDial,
	}
	newClientPool := func(size int) *pool[*gohdfs.Client] {
		return newPool(size, func() (*gohdfs.Client, error) { return gohdfs.NewClient(clientOpts) })
	}
	if k := opts.Kerberos; k != nil {
		clientOpts.KerberosServicePrincipleName = k.ServicePrincipal
		clientOpts.DataTransferProtection = weakestQOP(k.DataTransferProtection)
		newClientPool = func(size int) *pool[*gohdfs.Client] {
			return newPool(size, func() (*gohdfs.Client, error) {
				cl, err := k.Client()
				if err != nil {
					return nil, err
				}
				o := clientOpts
				o.KerberosClient = cl
				return gohdfs.NewClient(o)
			}).withEpoch(func() any {
				cl, _ := k.Client() // nil without a ticket: the next dial reports why
				return cl
			})
		}
	}
	s := &Store{
		opts:    opts,
		tmpDir:  path.Join(opts.Root, "tmp"),
		jarsDir: path.Join(opts.Root, "jars"),
		web:     opts.WebHDFS,
		pool:    newClientPool(opts.PoolSize),
		uploads: newClientPool(opts.UploadSlots),
		users: newPool(opts.UserSlots, func() (*gohdfs.Client, error) {
			return nil, ErrImpersonation // always dialled with getKeyed
		}),
		clientOpts: clientOpts,
	}
	return s, nil
}

// Close waits, bounded by ctx, for running operations to return their clients and closes all clients.
// Operations still running when ctx ends close their clients when they finish.
func (s *Store) Close(ctx context.Context) error {
	return errors.Join(s.uploads.close(ctx), s.users.close(ctx), s.pool.close(ctx))
}

// Root returns the staging root directory.
func (s *Store) Root() string { return s.opts.Root }

// Ping checks that a NameNode answers, bounded by ctx while waiting for a client.
func (s *Store) Ping(ctx context.Context) error {
	l, err := s.pool.get(ctx)
	if err != nil {
		return fmt.Errorf("ping hdfs: %w", err)
	}
	defer l.release()
	_, err = l.c.Stat(s.opts.Root)
	if err = l.check(err); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ping hdfs: %w", err)
	}
	return nil
}

// Jar is a staged jar.
type Jar struct {
	// ID is the lower-case hex SHA-256 of the content.
	ID string
	// Name is the (sanitised) original file name given at upload, possibly empty.
	Name string
	// Size is the length in bytes.
	Size int64
	// Path is the absolute HDFS path.
	Path string
	// URI is Path prefixed with the file system URI, such as hdfs://mycluster/user/u/.yarngate/jars/<id>.jar.
	URI string
	// MainClass is the manifest's Main-Class, or "".
	MainClass string
	// ModTime is the file's modification time (millisecond precision): when it was staged, and the
	// timestamp a YARN local resource for it must carry.
	ModTime time.Time
}

// ValidID reports whether id has the form of a jar id: 64 lower-case hex digits.
func ValidID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) jarPath(id string) string {
	return path.Join(s.jarsDir, id+".jar")
}

// ioDeadline returns the deadline for one reader or writer call: IOTimeout from now, or ctx's deadline
// when that is earlier.
func (s *Store) ioDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(s.opts.IOTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}
