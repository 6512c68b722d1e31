package hadoopconf

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestLoadFixtures(t *testing.T) {
	t.Setenv("YARNGATE_TEST_NN_HOST", "nn.vars.example.com")
	tests := []struct {
		name      string
		dir       string
		rpc       []string
		http      []string
		rms       []RM
		rmErr     bool
		auth      string
		zk        string
		clusterID string
	}{
		{
			name: "single NameNode and RM", dir: "simple",
			rpc:  []string{"nn.example.com:8020"},
			http: []string{"http://nn.example.com:50070"},
			rms:  []RM{{URL: "http://rm.example.com:8088"}},
			auth: "simple",
		},
		{
			name: "HA nameservice among two, RM HA with hostname fallback", dir: "ha",
			rpc:  []string{"nn2.prod.example.com:8020", "nn1.prod.example.com:8020"},
			http: []string{"http://nn2.prod.example.com:9870", "http://nn1.prod.example.com:9870"},
			rms:  []RM{{ID: "rm1", URL: "http://rm1.example.com:8088"}, {ID: "rm2", URL: "http://rm2.example.com:8088"}},
			auth: "kerberos", zk: "zk1:2181,zk2:2181,zk3:2181", clusterID: "prod-yarn",
		},
		{
			name: "HTTPS_ONLY policies", dir: "https",
			rpc:  []string{"a.example.com:8020", "b.example.com:8020"},
			http: []string{"https://a.example.com:9871", "https://b.example.com:9871"},
			rms:  []RM{{ID: "x", URL: "https://x.example.com:8090"}, {ID: "y", URL: "https://y.example.com:8090"}},
			auth: "kerberos",
		},
		{
			name: "final property survives a later file", dir: "final",
			rpc:  []string{"kept.example.com:9000"},
			http: []string{"http://kept.example.com:9870"},
			rms:  []RM{{URL: "http://late.example.com:8088"}},
			auth: "simple",
		},
		{
			name: "variables and environment", dir: "vars",
			rpc:  []string{"nn.vars.example.com:8020"},
			http: []string{"http://nn.vars.example.com:9870"},
			rms:  []RM{{URL: "http://rm-a.example.com:8088"}},
			auth: "simple",
		},
		{
			name: "non-HA nameservice, RM HA without rm-ids", dir: "nshost",
			rpc:   []string{"solo.example.com:8020"},
			http:  []string{"http://solo.example.com:9870"},
			rmErr: true,
			auth:  "simple",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tc.dir))
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			rpc, err := c.NameNodeRPCAddresses()
			if err != nil || !slices.Equal(rpc, tc.rpc) {
				t.Errorf("NameNodeRPCAddresses() = %v, %v; want %v", rpc, err, tc.rpc)
			}
			http, err := c.NameNodeHTTPURLs()
			if err != nil || !slices.Equal(http, tc.http) {
				t.Errorf("NameNodeHTTPURLs() = %v, %v; want %v", http, err, tc.http)
			}
			rms, err := c.ResourceManagers()
			if tc.rmErr {
				if !errors.Is(err, ErrNotConfigured) {
					t.Errorf("ResourceManagers() error = %v, want ErrNotConfigured", err)
				}
			} else if err != nil || !slices.Equal(rms, tc.rms) {
				t.Errorf("ResourceManagers() = %v, %v; want %v", rms, err, tc.rms)
			}
			if got := c.SecurityAuthentication(); got != tc.auth {
				t.Errorf("SecurityAuthentication() = %q, want %q", got, tc.auth)
			}
			if got := c.ZooKeeperQuorum(); got != tc.zk {
				t.Errorf("ZooKeeperQuorum() = %q, want %q", got, tc.zk)
			}
			if got := c.ClusterID(); got != tc.clusterID {
				t.Errorf("ClusterID() = %q, want %q", got, tc.clusterID)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		wantErr error
	}{
		{name: "directory without configuration files", dir: t.TempDir(), wantErr: ErrNoConfig},
		{name: "missing directory", dir: filepath.Join(t.TempDir(), "absent"), wantErr: ErrNoConfig},
		{name: "malformed XML", dir: filepath.Join("testdata", "broken")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.dir)
			if err == nil {
				t.Fatal("Load() succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Load() error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestNameNodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
	}{
		{name: "no default file system", props: map[string]string{}},
		{name: "local file system", props: map[string]string{"fs.defaultFS": "file:///"}},
		{name: "not a URI with authority", props: map[string]string{"fs.defaultFS": "nn.example.com:8020"}},
		{name: "HA NameNode without RPC address", props: map[string]string{
			"fs.defaultFS": "hdfs://ns", "dfs.nameservices": "ns", "dfs.ha.namenodes.ns": "nn1,nn2",
			"dfs.namenode.rpc-address.ns.nn1": "a:8020",
		}},
		{name: "declared nameservice without addresses", props: map[string]string{"fs.defaultFS": "hdfs://ns", "dfs.nameservices": "ns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.props)
			if _, err := c.NameNodeRPCAddresses(); !errors.Is(err, ErrNotConfigured) {
				t.Errorf("NameNodeRPCAddresses() error = %v, want ErrNotConfigured", err)
			}
			if _, err := c.NameNodeHTTPURLs(); !errors.Is(err, ErrNotConfigured) {
				t.Errorf("NameNodeHTTPURLs() error = %v, want ErrNotConfigured", err)
			}
		})
	}
}

func TestGetExpansion(t *testing.T) {
	c := New(map[string]string{
		"a":     "${b}-${c}",
		"b":     "x",
		"c":     "${d}",
		"d":     " y ",
		"self":  "${self}",
		"loop":  "${loop2}",
		"loop2": "${loop}",
		"miss":  "${nope}/${env.YARNGATE_TEST_UNSET_VAR}",
		"list":  " a, ,b ,",
	})
	tests := []struct {
		key, want string
	}{
		{"a", "x- y"},
		{"self", "${self}"},
		{"miss", "${nope}/${env.YARNGATE_TEST_UNSET_VAR}"},
		{"unset", ""},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := c.Get(tc.key); got != tc.want {
				t.Errorf("Get(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
	// A reference cycle must terminate.
	_ = c.Get("loop")
	if got := c.List("list"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("List() = %q", got)
	}
}

func TestKerberosSettings(t *testing.T) {
	tests := []struct {
		name       string
		props      map[string]string
		kerberos   bool
		spn        string
		protection []string
	}{
		{name: "simple", props: map[string]string{}, spn: "hdfs/_HOST"},
		{name: "upper-case kerberos", props: map[string]string{"hadoop.security.authentication": "Kerberos"}, kerberos: true, spn: "hdfs/_HOST"},
		{name: "explicit principal", props: map[string]string{"hadoop.security.authentication": "kerberos",
			"dfs.namenode.kerberos.principal": "hdfs/localhost@EXAMPLE.COM", "dfs.data.transfer.protection": "authentication"},
			kerberos: true, spn: "hdfs/localhost", protection: []string{"authentication"}},
		{name: "every protection listed, in order", props: map[string]string{"dfs.namenode.kerberos.principal": "nn/_HOST@EXAMPLE.COM",
			"dfs.data.transfer.protection": "authentication, Privacy ,integrity"}, spn: "nn/_HOST", protection: []string{"authentication", "privacy", "integrity"}},
		{name: "encrypted transfer means privacy", props: map[string]string{"dfs.encrypt.data.transfer": "true",
			"dfs.data.transfer.protection": "authentication"}, spn: "hdfs/_HOST", protection: []string{"privacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.props)
			if c.Kerberos() != tc.kerberos || c.NameNodeServicePrincipal() != tc.spn || !slices.Equal(c.DataTransferProtections(), tc.protection) {
				t.Errorf("Kerberos() %v, NameNodeServicePrincipal() %q, DataTransferProtections() %q; want %v, %q, %q",
					c.Kerberos(), c.NameNodeServicePrincipal(), c.DataTransferProtections(), tc.kerberos, tc.spn, tc.protection)
			}
		})
	}
}
