// Command layers checks yarngate's dependency rules on direct imports, for `make lint`.
//
// It lists the module's packages with `go list -json` and checks each against a table of rules: a rule names a
// package (and so the packages under it) and the import paths it must not import directly. Every violation is
// printed as "<package> imports <path> (rule: <why>)" and the command exits 1. A package a rule names that does
// not exist passes, so a rule can be written before its package.
//
// Usage, from the repository root:
//
//	go run ./tools/layers [packages]   (default ./...)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// module is the import path of yarngate's module.
const module = "github.com/yarngate/yarngate"

// clients are the packages that talk to the cluster.
var clients = []string{
	module + "/yarnclient",
	module + "/hdfs",
	module + "/hdfs/webhdfs",
	module + "/zk",
	module + "/flink",
	module + "/flink/jobmanager",
	module + "/flinkcluster",
	module + "/registry",
	module + "/registry/boltstore",
	module + "/kerberos",
	module + "/delegation",
	module + "/keytab",
}

// rules is the table `make lint` enforces. A forbidden entry ending in "/..." forbids that path and every path
// under it, as go list patterns do; any other entry forbids exactly that path.
var rules = []rule{
	{
		pkg:    module + "/api",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "wire types import nothing of ours and no gin, so clients can use them alone",
	},
	{
		pkg:    module + "/httpapi",
		forbid: clients,
		why:    "the HTTP layer reaches the cluster through the service, never a cluster client",
	},
	{
		pkg: module + "/flinkcluster",
		forbid: []string{module + "/job", module + "/httpapi", module + "/app", module + "/reconcile", module + "/launch",
			"github.com/gin-gonic/gin/..."},
		why: "finding registered clusters' JobManagers is a client: it knows the client packages, never the service or HTTP",
	},
	{
		pkg:    module + "/client",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		allow:  []string{module + "/api"},
		why:    "the API client speaks the wire types only: it imports api and nothing else of ours, and no gin",
	},
	{
		pkg:    module + "/kerberos",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "the Kerberos login and SPNEGO transports are handed to the clients by app; they know none of ours",
	},
	{
		pkg:    module + "/tlscert",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "certificate reloading knows none of ours: app hands its tls.Config to the HTTP server",
	},
	{
		pkg:    module + "/authn",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "authentication knows none of ours: httpapi installs it, app configures it, job reads its Principal",
	},
	{
		pkg:    module + "/delegation",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "delegation tokens are fetched over an http.Client app hands in; the package knows none of ours",
	},
	{
		pkg:    module + "/keytab",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/..."},
		why:    "keytabs are stored through a file system interface app adapts; the package knows none of ours",
	},
	{
		pkg: module + "/yarnlogs",
		forbid: []string{module + "/...", "github.com/gin-gonic/gin/...", "github.com/colinmarc/hdfs/v2/...",
			"net", "net/http", "os", "os/exec", "io/fs"},
		why: "the aggregated-log format reads an io.ReaderAt it is handed: no I/O of its own, none of ours",
	},
	{
		pkg: module + "/dashboard",
		forbid: append(slices.Clone(clients), module+"/job", module+"/httpapi", module+"/launch", module+"/reconcile",
			module+"/app", "github.com/gin-gonic/gin/..."),
		why: "the dashboard renders the api objects the services hand it through interfaces it declares; it reaches neither the cluster nor the registry, and httpapi mounts it",
	},
	{
		pkg: module + "/notify",
		forbid: []string{module + "/app", module + "/httpapi", module + "/job", module + "/launch", module + "/reconcile",
			module + "/yarnclient", module + "/hdfs/...", module + "/zk", module + "/flink/...", module + "/kerberos",
			"github.com/gin-gonic/gin/..."},
		why: "notifications read and write the registry's outboxes and call webhooks; they know no cluster client, service or HTTP layer",
	},
	{
		pkg: module + "/observe",
		forbid: append(slices.Clone(clients),
			"net", "net/http", "os", "os/exec", "io/fs", "database/sql",
			"github.com/gin-gonic/gin/...", "github.com/colinmarc/hdfs/v2/...", "github.com/go-zookeeper/zk/..."),
		why: "observing is a pure function of what was observed: no I/O",
	},
}

// rule forbids the packages at and under pkg to import any of forbid directly.
type rule struct {
	// pkg is the import path of the package the rule constrains, and of the tree under it.
	pkg string
	// forbid lists import paths, or path/... for a path and everything under it.
	forbid []string
	// allow lists exceptions to forbid, in the same form.
	allow []string
	// why is the reason printed beside each violation.
	why string
}

// pkgImports is the part of `go list -json` output the check reads.
type pkgImports struct {
	ImportPath string
	Imports    []string
}

// violation is one forbidden direct import.
type violation struct {
	pkg, imp, why string
}

func (v violation) String() string {
	return fmt.Sprintf("%s imports %s (rule: %s)", v.pkg, v.imp, v.why)
}

func main() {
	patterns := os.Args[1:]
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	pkgs, err := listPackages(patterns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "layers: %v\n", err)
		os.Exit(2)
	}
	vs := check(pkgs, rules)
	for _, v := range vs {
		fmt.Println(v)
	}
	if len(vs) > 0 {
		os.Exit(1)
	}
}

// listPackages runs `go list -json` on patterns and decodes its stream of package objects.
func listPackages(patterns []string) ([]pkgImports, error) {
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []pkgImports
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgImports
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// check returns every direct import of pkgs that a rule forbids, in package and import order. A package
// never counts as importing its own rule's tree (api/x may import api).
func check(pkgs []pkgImports, rules []rule) []violation {
	var vs []violation
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.pkg) {
				continue
			}
			for _, imp := range p.Imports {
				if under(imp, r.pkg) {
					continue
				}
				match := func(f string) bool { return matches(f, imp) }
				if slices.ContainsFunc(r.forbid, match) && !slices.ContainsFunc(r.allow, match) {
					vs = append(vs, violation{pkg: p.ImportPath, imp: imp, why: r.why})
				}
			}
		}
	}
	slices.SortStableFunc(vs, func(a, b violation) int {
		return strings.Compare(a.pkg+" "+a.imp, b.pkg+" "+b.imp)
	})
	return vs
}

// matches reports whether path is forbidden by pattern: path itself, or, for "x/...", x or anything under it.
func matches(pattern, path string) bool {
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return under(path, tree)
	}
	return path == pattern
}

// under reports whether path is root or a package below it.
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}
