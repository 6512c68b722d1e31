package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeFile writes content to a file in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "yarngate.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// parsedFlags returns a flag set prepared with RegisterFlags and parsed from args.
func parsedFlags(t *testing.T, args ...string) *flag.FlagSet {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadLayers(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:9000\nuser: alice\nhdfs:\n  poolSize: 3\n  namenodes: [a:1, b:2]\njars:\n  maxSize: 512MiB\n")
	base := []string{"HADOOP_CONF_DIR=/etc/hadoop"}
	tests := []struct {
		name  string
		file  string
		env   []string
		flags []string
		check func(t *testing.T, c Config)
	}{
		{name: "defaults", env: base, check: func(t *testing.T, c Config) {
			want := Default(lookupEnv(base))
			want.HDFS.StagingRoot = DefaultStagingRoot(want.User)
			want.Flink.LibRoot = want.HDFS.StagingRoot + "/flink"
			want.Flink.HA.StorageDir = want.HDFS.StagingRoot + "/ha"
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
			if c.Listen != "127.0.0.1:8080" || c.HadoopConfDir != "/etc/hadoop" || c.Jars.MaxSize != 2*GiB {
				t.Errorf("unexpected defaults %+v", c)
			}
		}},
		{name: "file overrides defaults and keeps the rest", file: file, env: base, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.User != "alice" || c.HDFS.PoolSize != 3 || c.Jars.MaxSize != 512*MiB {
				t.Errorf("file values not applied: %+v", c)
			}
			if !slices.Equal(c.HDFS.NameNodes, []string{"a:1", "b:2"}) {
				t.Errorf("namenodes = %v", c.HDFS.NameNodes)
			}
			if c.HDFS.IOTimeout != time.Minute || c.HDFS.StagingRoot != "/user/alice/.yarngate" {
				t.Errorf("defaults lost: %+v", c.HDFS)
			}
		}},
		{name: "environment overrides file", file: file,
			env: append(slices.Clone(base), "YARNGATE_LISTEN=127.0.0.1:9100", "YARNGATE_HDFS_NAMENODES=c:3, d:4", "YARNGATE_JARS_MAX_SIZE=1GiB", "YARNGATE_HDFS_IO_TIMEOUT=5s"),
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:9100" || c.Jars.MaxSize != GiB || c.HDFS.IOTimeout != 5*time.Second {
					t.Errorf("env values not applied: %+v", c)
				}
				if !slices.Equal(c.HDFS.NameNodes, []string{"c:3", "d:4"}) {
					t.Errorf("namenodes = %v", c.HDFS.NameNodes)
				}
			}},
		{name: "flags override environment", file: file,
			env:   append(slices.Clone(base), "YARNGATE_LISTEN=127.0.0.1:9100", "YARNGATE_LOG_LEVEL=warn"),
			flags: []string{"--listen", "127.0.0.1:9200", "--hdfs.staging-root", "/tmp/stage", "--log.format", "json"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:9200" || c.HDFS.StagingRoot != "/tmp/stage" || c.Log.Format != "json" || c.Log.Level != "warn" {
					t.Errorf("flag values not applied: %+v", c)
				}
			}},
		{name: "cluster.env variables that are not keys are ignored",
			env: append(slices.Clone(base), "YARNGATE_RM_URL=http://x:1", "YARNGATE_ZK=zk:2181", "YARNGATE_NAMENODE=nn:1", "YARNGATE_USER=yarngate", "YARNGATE_FLINK_HOME=/opt/flink"),
			check: func(t *testing.T, c Config) {
				if len(c.YARN.RMURLs) != 0 || c.ZooKeeper.Quorum != "" || len(c.HDFS.NameNodes) != 0 {
					t.Errorf("foreign variables leaked in: %+v", c)
				}
				if c.User != "yarngate" || c.HDFS.StagingRoot != "/user/yarngate/.yarngate" {
					t.Errorf("YARNGATE_USER not applied: user %q root %q", c.User, c.HDFS.StagingRoot)
				}
			}},
		{name: "cluster.env's Kerberos variables are the kerberos keys",
			env: append(slices.Clone(base), "YARNGATE_KERBEROS=1", "YARNGATE_PRINCIPAL=yarngate@EXAMPLE.COM",
				"YARNGATE_KEYTAB=/run/kdc/gateway.keytab", "YARNGATE_KRB5_CONF=/run/kdc/krb5.conf", "YARNGATE_REALM=EXAMPLE.COM"),
			check: func(t *testing.T, c Config) {
				want := Kerberos{Principal: "yarngate@EXAMPLE.COM", Keytab: "/run/kdc/gateway.keytab", Krb5Conf: "/run/kdc/krb5.conf"}
				if c.Kerberos != want {
					t.Errorf("kerberos = %+v, want %+v", c.Kerberos, want)
				}
			}},
		{name: "krb5.conf defaults to KRB5_CONFIG, then /etc/krb5.conf", env: append(slices.Clone(base), "KRB5_CONFIG=/run/kdc/krb5.conf:/etc/krb5.conf"),
			check: func(t *testing.T, c Config) {
				if c.Kerberos.Krb5Conf != "/run/kdc/krb5.conf" {
					t.Errorf("krb5Conf = %q", c.Kerberos.Krb5Conf)
				}
				if d := Default(lookupEnv(base)).Kerberos.Krb5Conf; d != "/etc/krb5.conf" {
					t.Errorf("default krb5Conf without KRB5_CONFIG = %q", d)
				}
			}},
		{name: "kerberos flags override the environment", env: append(slices.Clone(base), "YARNGATE_PRINCIPAL=a@EXAMPLE.COM", "YARNGATE_KEYTAB=/a.keytab"),
			flags: []string{"--kerberos.principal", "b@EXAMPLE.COM", "--kerberos.keytab", "/b.keytab", "--kerberos.krb5-conf", "/b.conf"},
			check: func(t *testing.T, c Config) {
				if c.Kerberos != (Kerberos{Principal: "b@EXAMPLE.COM", Keytab: "/b.keytab", Krb5Conf: "/b.conf"}) {
					t.Errorf("kerberos = %+v", c.Kerberos)
				}
			}},
		{name: "YARNGATE_CONFIG names the file", env: append(slices.Clone(base), "YARNGATE_CONFIG="+file), check: func(t *testing.T, c Config) {
			if c.User != "alice" {
				t.Errorf("file not loaded: %+v", c)
			}
		}},
		{name: "--config flag names the file", env: base, flags: []string{"--config", file}, check: func(t *testing.T, c Config) {
			if c.User != "alice" {
				t.Errorf("file not loaded: %+v", c)
			}
		}},
		{name: "namenodes replace a missing conf dir", env: []string{"YARNGATE_HDFS_NAMENODES=nn:8020"}, check: func(t *testing.T, c Config) {
			if c.HadoopConfDir != "" || !slices.Equal(c.HDFS.NameNodes, []string{"nn:8020"}) {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := LoadOptions{File: tc.file, Environ: tc.env}
			if tc.flags != nil {
				opts.Flags = parsedFlags(t, tc.flags...)
			}
			c, err := Load(opts)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	env := []string{"HADOOP_CONF_DIR=/etc/hadoop"}
	tests := []struct {
		name  string
		file  string
		env   []string
		flags []string
		want  string
	}{
		{name: "unknown top-level key", file: "listen: 127.0.0.1:1\nlistenn: x\n", want: "listenn"},
		{name: "unknown nested key", file: "hdfs:\n  stagingroot: /x\n", want: "stagingroot"},
		{name: "wrong type", file: "hdfs:\n  poolSize: many\n", want: "line 2"},
		{name: "bad duration", file: "hdfs:\n  ioTimeout: soon\n", want: "soon"},
		{name: "bad size", file: "jars:\n  maxSize: 2 parsecs\n", want: "parsecs"},
		{name: "two documents", file: "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n", want: "more than one"},
		{name: "missing file", file: "", flags: []string{"--config", "/nonexistent/yarngate.yaml"}, want: "no such file"},
		{name: "bad env value", env: []string{"YARNGATE_HDFS_POOL_SIZE=lots"}, want: "YARNGATE_HDFS_POOL_SIZE"},
		{name: "bad flag value", flags: []string{"--shutdown-timeout", "later"}, want: "--shutdown-timeout"},
		{name: "invalid after layering", env: []string{"YARNGATE_LOG_FORMAT=xml"}, want: "log.format"},
		{name: "bad bool", env: []string{"YARNGATE_REGISTRY_ZK_OPEN_ACL=maybe"}, want: "YARNGATE_REGISTRY_ZK_OPEN_ACL"},
		{name: "digest and digest file", env: []string{"YARNGATE_ZOOKEEPER_DIGEST=a:b", "YARNGATE_ZOOKEEPER_DIGEST_FILE=/x"}, want: "both"},
		{name: "missing digest file", env: []string{"YARNGATE_ZOOKEEPER_DIGEST_FILE=/nonexistent/digest"}, want: "zookeeper.digestFile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := LoadOptions{Environ: append(slices.Clone(env), tc.env...)}
			if tc.file != "" {
				opts.File = writeFile(t, tc.file)
			}
			if tc.flags != nil {
				opts.Flags = parsedFlags(t, tc.flags...)
			}
			_, err := Load(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load() error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := Default(func(string) string { return "" })
	valid.User = "u"
	valid.HadoopConfDir = "/etc/hadoop"
	valid.HDFS.StagingRoot = "/user/u/.yarngate"
	valid.Flink.LibRoot = "/user/u/.yarngate/flink"
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "listen"},
		{"no cluster endpoints", func(c *Config) { c.HadoopConfDir = "" }, "hadoopConfDir"},
		{"empty user", func(c *Config) { c.User = "" }, "user"},
		{"user with slash", func(c *Config) { c.User = "a/b" }, "user"},
		{"bad namenode", func(c *Config) { c.HDFS.NameNodes = []string{"nn"} }, "hdfs.namenodes"},
		{"relative staging root", func(c *Config) { c.HDFS.StagingRoot = "user/x" }, "hdfs.stagingRoot"},
		{"unclean staging root", func(c *Config) { c.HDFS.StagingRoot = "/user/../x" }, "hdfs.stagingRoot"},
		{"root as staging root", func(c *Config) { c.HDFS.StagingRoot = "/" }, "hdfs.stagingRoot"},
		{"relative flink home", func(c *Config) { c.Flink.Homes = []string{"flink"} }, "flink.homes"},
		{"root as flink lib root", func(c *Config) { c.Flink.LibRoot = "/" }, "flink.libRoot"},
		{"unknown ha mode", func(c *Config) { c.Flink.HA.Mode = "kubernetes" }, "flink.ha.mode"},
		{"relative ha path root", func(c *Config) { c.Flink.HA.PathRoot = "flink" }, "flink.ha.pathRoot"},
		{"relative ha storage dir", func(c *Config) { c.Flink.HA.StorageDir = "ha" }, "flink.ha.storageDir"},
		{"short ha session timeout", func(c *Config) { c.Flink.HA.SessionTimeout = 100 * time.Millisecond }, "flink.ha.sessionTimeout"},
		{"no task manager slots", func(c *Config) { c.Jobs.TaskManagerSlots = 0 }, "jobs.taskManagerSlots"},
		{"no max wait", func(c *Config) { c.Jobs.MaxWait = 0 }, "jobs.maxWait"},
		{"automatic restarts without health checks", func(c *Config) { c.Health.AutoRestart, c.Health.Interval = true, 0 }, "health.autoRestart"},
		{"zero dial timeout", func(c *Config) { c.HDFS.DialTimeout = 0 }, "hdfs.dialTimeout"},
		{"negative io timeout", func(c *Config) { c.HDFS.IOTimeout = -time.Second }, "hdfs.ioTimeout"},
		{"pool too large", func(c *Config) { c.HDFS.PoolSize = 65 }, "hdfs.poolSize"},
		{"pool empty", func(c *Config) { c.HDFS.PoolSize = 0 }, "hdfs.poolSize"},
		{"negative temp age", func(c *Config) { c.HDFS.TempMaxAge = -time.Hour }, "hdfs.tempMaxAge"},
		{"zero max size", func(c *Config) { c.Jars.MaxSize = 0 }, "jars.maxSize"},
		{"no upload slots", func(c *Config) { c.Jars.UploadSlots = 0 }, "jars.uploadSlots"},
		{"zero slot wait", func(c *Config) { c.Jars.SlotWait = 0 }, "jars.slotWait"},
		{"negative min rate", func(c *Config) { c.Jars.MinRate = -1 }, "jars.minRate"},
		{"min rate without a window", func(c *Config) { c.Jars.RateWindow = 0 }, "jars.rateWindow"},
		{"negative upload deadline", func(c *Config) { c.Jars.MaxDuration = -time.Minute }, "jars.maxDuration"},
		{"zero header timeout", func(c *Config) { c.HTTP.ReadHeaderTimeout = 0 }, "http.readHeaderTimeout"},
		{"zero body timeout", func(c *Config) { c.HTTP.BodyTimeout = 0 }, "http.bodyTimeout"},
		{"negative write rate", func(c *Config) { c.Limits.Writes.Rate = -1 }, "limits.writes.rate"},
		{"read rate without burst", func(c *Config) { c.Limits.Reads.Burst = 0 }, "limits.reads.burst"},
		{"negative long-poll cap", func(c *Config) { c.Limits.LongPolls.PerClient = -1 }, "limits.longPolls"},
		{"rm url without scheme", func(c *Config) { c.YARN.RMURLs = []string{"rm:8088"} }, "yarn.rmUrls"},
		{"bad quorum", func(c *Config) { c.ZooKeeper.Quorum = "zk1:2181,zk2" }, "zookeeper.quorum"},
		{"digest without colon", func(c *Config) { c.ZooKeeper.Digest = "password" }, "zookeeper.digest"},
		{"digest without user", func(c *Config) { c.ZooKeeper.Digest = ":password" }, "zookeeper.digest"},
		{"ha path root is the registry root", func(c *Config) { c.Flink.HA.PathRoot = "/yarngate" }, "flink.ha.pathRoot"},
		{"ha path root under the registry root", func(c *Config) { c.Flink.HA.PathRoot = "/yarngate/flink" }, "flink.ha.pathRoot"},
		{"registry root under the ha path root", func(c *Config) { c.Registry.ZKRoot = "/yarngate-flink/registry" }, "flink.ha.pathRoot"},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"bad format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdownTimeout"},
		{"principal with two realms", func(c *Config) { c.Kerberos = Kerberos{Principal: "gw@A@B", Keytab: "/k"} }, "kerberos.principal"},
		{"principal without keytab", func(c *Config) { c.Kerberos.Principal = "gw@EXAMPLE.COM" }, "kerberos"},
		{"keytab without principal", func(c *Config) { c.Kerberos.Keytab = "/etc/gw.keytab" }, "kerberos"},
		{"none on all interfaces", func(c *Config) { c.Listen = "0.0.0.0:8080" }, "auth.methods"},
		{"none on an empty host", func(c *Config) { c.Listen = ":8080" }, "auth.methods"},
		{"none on a host name", func(c *Config) { c.Listen = "gateway.example.com:8080" }, "auth.methods"},
		{"none with token", func(c *Config) { c.Auth.Methods, c.Auth.TokensFile = []string{"none", "token"}, "/t.yaml" }, "auth.methods"},
		{"no methods", func(c *Config) { c.Auth.Methods = nil }, "auth.methods"},
		{"unknown method", func(c *Config) { c.Auth.Methods = []string{"basic"} }, "auth.methods"},
		{"kerberos without keytab", func(c *Config) { c.Auth.Methods = []string{"kerberos"} }, "auth.kerberos"},
		{"kerberos with a user principal", func(c *Config) {
			c.Auth.Methods, c.Auth.Kerberos = []string{"kerberos"}, AuthSPNEGO{Keytab: "/k", Principal: "yarngate@EXAMPLE.COM"}
		}, "auth.kerberos.principal"},
		{"short cookie secret", func(c *Config) {
			c.Auth.Methods, c.Auth.Kerberos, c.Auth.Cookie.Secret = []string{"kerberos"}, AuthSPNEGO{Keytab: "/k", Principal: "HTTP/gw"}, "short"
		}, "auth.cookie.secret"},
		{"token without a source", func(c *Config) { c.Auth.Methods = []string{"token"} }, "auth"},
		{"issuer without audience", func(c *Config) { c.Auth.Methods, c.Auth.OIDC.Issuer = []string{"token"}, "https://idp" }, "auth.oidc.audience"},
		{"issuer not a URL", func(c *Config) {
			c.Auth.Methods, c.Auth.OIDC.Issuer, c.Auth.OIDC.Audience = []string{"token"}, "idp", "yarngate"
		}, "auth.oidc.issuer"},
		{"empty auth_to_local", func(c *Config) { c.Auth.AuthToLocal = " " }, "auth.authToLocal"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "/c.pem" }, "tls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			c.HDFS.NameNodes = nil
			tc.mutate(&c)
			err := c.Validate()
			var verr *ValidationError
			if !errors.As(err, &verr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() error = %v, want a *ValidationError", err)
			}
			if len(verr.Problems) != 1 || !strings.HasPrefix(verr.Problems[0], tc.key+":") {
				t.Errorf("problems = %q, want exactly one about %s", verr.Problems, tc.key)
			}
		})
	}
	t.Run("kerberos credentials are fine", func(t *testing.T) {
		c := valid
		c.Kerberos = Kerberos{Principal: "yarngate/gw.example.com@EXAMPLE.COM", Keytab: "/etc/security/gw.keytab", Krb5Conf: "/etc/krb5.conf"}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
	})
	t.Run("registry root and ha path root side by side are fine", func(t *testing.T) {
		c := valid
		c.Registry.ZKRoot, c.Flink.HA.PathRoot = "/yarngate", "/yarngate-flink"
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
		c.Flink.HA.Mode, c.Flink.HA.PathRoot = HANone, "/yarngate/flink" // not used without HA
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
	})
	t.Run("quorum with chroot is fine", func(t *testing.T) {
		c := valid
		c.ZooKeeper.Quorum = "zk1:2181,zk2:2181/hadoop"
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
	})
}

func TestDigestFile(t *testing.T) {
	file := writeFile(t, "  gw:s3cret:x\n")
	c, err := Load(LoadOptions{Environ: []string{"HADOOP_CONF_DIR=/etc/hadoop", "YARNGATE_ZOOKEEPER_DIGEST_FILE=" + file,
		"YARNGATE_REGISTRY_ZK_OPEN_ACL=true"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ZooKeeper.Digest.Reveal(); got != "gw:s3cret:x" {
		t.Errorf("digest from the file = %q", got)
	}
	if !c.Registry.ZKOpenACL {
		t.Error("registry.zkOpenACL not set from the environment")
	}
	if _, err := Load(LoadOptions{Environ: []string{"HADOOP_CONF_DIR=/etc/hadoop", "YARNGATE_ZOOKEEPER_DIGEST_FILE=" + writeFile(t, "\n")}}); err == nil {
		t.Error("an empty digest file was accepted")
	}
}

func TestSecretRedaction(t *testing.T) {
	const secret = "zkuser:hunter2"
	c := Default(func(string) string { return "" })
	c.ZooKeeper.Digest = Secret(secret)
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "digest", c.ZooKeeper.Digest, "config", c)
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", c),
		"%+v":  fmt.Sprintf("%+v", c),
		"%#v":  fmt.Sprintf("%#v", c),
		"%s":   fmt.Sprint(c.ZooKeeper.Digest),
		"yaml": string(y),
		"json": string(j),
		"slog": logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s output leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s output does not show %s: %s", name, redacted, out)
		}
	}
	if c.ZooKeeper.Digest.Reveal() != secret {
		t.Error("Reveal() lost the value")
	}
}

func TestExampleFiles(t *testing.T) {
	env := []string{"HADOOP_CONF_DIR=/tmp/hadoop-conf"}
	example, err := Load(LoadOptions{File: filepath.Join("..", "configs", "yarngate.example.yaml"), Environ: env})
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	// The example documents the defaults; only the site-specific values differ.
	want := Default(lookupEnv(env))
	want.HadoopConfDir, want.User, want.HDFS.StagingRoot = "/etc/hadoop/conf", "yarngate", "/user/yarngate/.yarngate"
	want.HDFS.NameNodes, want.YARN.RMURLs = []string{}, []string{}
	want.Flink.Homes, want.Flink.LibRoot = []string{}, "/user/yarngate/.yarngate/flink"
	want.Flink.HA.StorageDir = "/user/yarngate/.yarngate/ha"
	want.Auth.Groups = map[string][]string{}
	want.Auth.ProxyUsers = map[string]AuthProxyRule{}
	if !reflect.DeepEqual(example, want) {
		t.Errorf("example differs from the defaults:\n got %+v\nwant %+v", example, want)
	}
	// And it mentions every key.
	raw, err := os.ReadFile(filepath.Join("..", "configs", "yarngate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		var node any = doc
		for _, part := range strings.Split(k.Path, ".") {
			m, _ := node.(map[string]any)
			node = m[part]
			if _, ok := m[part]; !ok {
				t.Errorf("example lacks %s", k.Path)
			}
		}
		if !strings.Contains(string(raw), k.Env) {
			t.Errorf("example does not name %s for %s", k.Env, k.Path)
		}
	}

	dev, err := Load(LoadOptions{File: filepath.Join("..", "configs", "dev.yaml"), Environ: env})
	if err != nil {
		t.Fatalf("dev: %v", err)
	}
	if dev.User != "yarngate" || dev.HadoopConfDir != "/tmp/hadoop-conf" {
		t.Errorf("dev: user %q conf dir %q", dev.User, dev.HadoopConfDir)
	}
}

func TestAuthFromEnvironment(t *testing.T) {
	env := []string{"HADOOP_CONF_DIR=/etc/hadoop", "YARNGATE_USER=u", "YARNGATE_AUTH_METHODS=kerberos, token",
		"YARNGATE_AUTH_KEYTAB=/k/http.keytab", "YARNGATE_AUTH_PRINCIPAL=HTTP/localhost@EXAMPLE.COM",
		"YARNGATE_AUTH_TOKENS_FILE=/k/tokens.yaml", "YARNGATE_AUTH_GROUPS=alice=etl analysts, bob=", "YARNGATE_LISTEN=0.0.0.0:8080"}
	c, err := Load(LoadOptions{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"alice": {"etl", "analysts"}, "bob": {}}
	if !slices.Equal(c.Auth.Methods, []string{"kerberos", "token"}) || !reflect.DeepEqual(c.Auth.Groups, want) ||
		c.Auth.Kerberos.Principal != "HTTP/localhost@EXAMPLE.COM" {
		t.Errorf("auth = %+v", c.Auth)
	}
	if _, err := Load(LoadOptions{Environ: append(env, "YARNGATE_AUTH_GROUPS=alice")}); err == nil {
		t.Error("groups without = accepted")
	}
	c, err = Load(LoadOptions{Environ: append(env, "YARNGATE_AUTH_PROXY_USERS=airflow=alice group:etl, cron=*",
		"YARNGATE_AUTH_IMPERSONATION=false", "YARNGATE_AUTH_IMPERSONATION_DENY_USERS=root,hdfs")})
	if err != nil {
		t.Fatal(err)
	}
	wantProxies := map[string]AuthProxyRule{"airflow": {Users: []string{"alice"}, Groups: []string{"etl"}},
		"cron": {Users: []string{"*"}, Groups: []string{}}}
	if !reflect.DeepEqual(c.Auth.ProxyUsers, wantProxies) || c.Auth.Impersonation.Enabled ||
		!slices.Equal(c.Auth.Impersonation.DenyUsers, []string{"root", "hdfs"}) {
		t.Errorf("proxy users %+v, impersonation %+v", c.Auth.ProxyUsers, c.Auth.Impersonation)
	}
	if _, err := Load(LoadOptions{Environ: append(env, "YARNGATE_AUTH_PROXY_USERS=airflow")}); err == nil {
		t.Error("proxy users without = accepted")
	}
}
