package main

import (
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	pkg := func(path string, imports ...string) pkgImports { return pkgImports{ImportPath: path, Imports: imports} }
	for _, tc := range []struct {
		name string
		pkgs []pkgImports
		want []string
	}{
		{
			name: "clean layout passes",
			pkgs: []pkgImports{
				pkg(module+"/api", "encoding/json", "time"),
				pkg(module+"/httpapi", module+"/api", module+"/job", "github.com/gin-gonic/gin", "net/http"),
				pkg(module+"/observe", module+"/api", "time", "net/url", "errors"),
				pkg(module+"/gateway", module+"/hdfs", "github.com/gin-gonic/gin"),
			},
		},
		{
			name: "packages the rules name do not exist yet",
			pkgs: []pkgImports{pkg(module+"/gateway", module+"/hdfs", module+"/zk", "net/http", "os")},
		},
		{
			name: "httpapi importing a cluster client",
			pkgs: []pkgImports{pkg(module+"/httpapi", module+"/api", module+"/flink/jobmanager", module+"/hdfs")},
			want: []string{
				module + "/httpapi imports " + module + "/flink/jobmanager",
				module + "/httpapi imports " + module + "/hdfs",
			},
		},
		{
			name: "httpapi may import a package that only starts with a client's name",
			pkgs: []pkgImports{pkg(module+"/httpapi", module+"/hdfsview", module+"/registry/storetest")},
		},
		{
			name: "observe importing I/O",
			pkgs: []pkgImports{pkg(module+"/observe", "os", "net", "net/http", "github.com/colinmarc/hdfs/v2/hadoopconf",
				"github.com/go-zookeeper/zk", module+"/registry")},
			want: []string{
				module + "/observe imports github.com/colinmarc/hdfs/v2/hadoopconf",
				module + "/observe imports github.com/go-zookeeper/zk",
				module + "/observe imports " + module + "/registry",
				module + "/observe imports net",
				module + "/observe imports net/http",
				module + "/observe imports os",
			},
		},
		{
			name: "a subpackage of observe is held to its rule",
			pkgs: []pkgImports{pkg(module+"/observe/derive", module+"/observe", "os/exec")},
			want: []string{module + "/observe/derive imports os/exec"},
		},
		{
			name: "api importing ours or gin",
			pkgs: []pkgImports{
				pkg(module+"/api", module+"/registry", "github.com/gin-gonic/gin/binding"),
				pkg(module+"/api/client", module+"/api", "net/http"),
			},
			want: []string{
				module + "/api imports github.com/gin-gonic/gin/binding",
				module + "/api imports " + module + "/registry",
			},
		},
		{
			name: "client imports api but nothing else of ours",
			pkgs: []pkgImports{pkg(module+"/client", module+"/api", module+"/job", "github.com/gin-gonic/gin",
				"github.com/jcmturner/gokrb5/v8/spnego", "net/http")},
			want: []string{
				module + "/client imports github.com/gin-gonic/gin",
				module + "/client imports " + module + "/job",
			},
		},
		{
			name: "dashboard reaching past the service",
			pkgs: []pkgImports{
				pkg(module+"/dashboard", module+"/api", module+"/authn", "html/template", "net/http"),
				pkg(module+"/dashboard", module+"/job", module+"/registry", "github.com/gin-gonic/gin"),
			},
			want: []string{
				module + "/dashboard imports github.com/gin-gonic/gin",
				module + "/dashboard imports " + module + "/job",
				module + "/dashboard imports " + module + "/registry",
			},
		},
		{
			name: "a package named like a ruled one is not ruled",
			pkgs: []pkgImports{pkg(module+"/apiclient", module+"/hdfs"), pkg(module+"/observer", "os")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range check(tc.pkgs, rules) {
				if v.why == "" {
					t.Errorf("%v has no reason", v)
				}
				got = append(got, v.pkg+" imports "+v.imp)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("check() =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestViolationString(t *testing.T) {
	v := violation{pkg: "a", imp: "b", why: "c"}
	if got, want := v.String(), "a imports b (rule: c)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
