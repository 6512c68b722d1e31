// Package hadoopconf reads a Hadoop configuration directory (HADOOP_CONF_DIR) the way Hadoop's own tools do
// and resolves the cluster endpoints yarngate needs from it: the NameNodes of the default file system
// (including HA nameservices), their HTTP addresses, the ResourceManager web addresses (including RM HA),
// the ZooKeeper quorum, the cluster id and the security mode.
//
// Only core-site.xml, hdfs-site.xml and yarn-site.xml are read, in that order; a later file overrides an
// earlier one unless the earlier property is marked <final>true</final>. Values may refer to other
// properties as ${name} and to environment variables as ${env.NAME}, as in Hadoop's Configuration class.
//
// Unlike github.com/colinmarc/hdfs/v2/hadoopconf, NameNode addresses are taken from the one nameservice of
// fs.defaultFS, in configuration order: mixing the NameNodes of several nameservices, or sorting them, would
// make the client fail over to the wrong cluster.
//
// Dependency rule: hadoopconf is a leaf package (standard library only); the composition root (package app)
// uses it to fill client options.
package hadoopconf

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Files lists the configuration files Load reads, in the order they are merged.
var Files = []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"}

// ErrNoConfig means the directory holds none of the configuration files.
var ErrNoConfig = errors.New("no Hadoop configuration files found")

// ErrNotConfigured means a property that an endpoint needs is missing or invalid.
var ErrNotConfigured = errors.New("not configured")

// Conf is a merged Hadoop configuration: property name to (unexpanded) value.
type Conf struct {
	props map[string]string
	final map[string]bool
	env   func(string) string
}

// Load reads the configuration files in dir. Missing files are skipped; a directory without any of them
// is an error (ErrNoConfig), as is a malformed file.
func Load(dir string) (*Conf, error) {
	c := New(nil)
	found := 0
	for _, name := range Files {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load hadoop conf: %w", err)
		}
		err = c.merge(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("load hadoop conf: %s: %w", path, err)
		}
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("load hadoop conf from %s: %w", dir, ErrNoConfig)
	}
	return c, nil
}

// New returns a configuration holding props; it is mainly useful in tests and for callers that build a
// configuration programmatically. The environment for ${env.NAME} is os.Getenv.
func New(props map[string]string) *Conf {
	c := &Conf{props: map[string]string{}, final: map[string]bool{}, env: os.Getenv}
	for k, v := range props {
		c.props[k] = v
	}
	return c
}

type xmlConfiguration struct {
	Properties []struct {
		Name  string `xml:"name"`
		Value string `xml:"value"`
		Final string `xml:"final"`
	} `xml:"property"`
}

// merge reads one configuration file into c.
func (c *Conf) merge(r io.Reader) error {
	var doc xmlConfiguration
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	for _, p := range doc.Properties {
		name := strings.TrimSpace(p.Name)
		if name == "" || c.final[name] {
			continue
		}
		c.props[name] = p.Value
		if strings.TrimSpace(p.Final) == "true" {
			c.final[name] = true
		}
	}
	return nil
}

// maxExpansions bounds ${...} substitution depth, like Hadoop's MAX_SUBST.
const maxExpansions = 20

var varPattern = regexp.MustCompile(`\$\{[^\}\$\s]+\}`)

// Get returns the value of a property with variables expanded and surrounding whitespace trimmed, or ""
// when it is not set. A variable that cannot be resolved is left as is, as Hadoop does.
func (c *Conf) Get(name string) string {
	v, ok := c.props[name]
	if !ok {
		return ""
	}
	for range maxExpansions {
		expanded := varPattern.ReplaceAllStringFunc(v, func(ref string) string {
			key := ref[2 : len(ref)-1]
			if envName, ok := strings.CutPrefix(key, "env."); ok {
				if ev := c.env(envName); ev != "" {
					return ev
				}
				return ref
			}
			if key == name {
				return ref // self reference
			}
			if pv, ok := c.props[key]; ok {
				return pv
			}
			return ref
		})
		if expanded == v {
			break
		}
		v = expanded
	}
	return strings.TrimSpace(v)
}

// GetDefault returns Get(name), or def when the property is unset or empty.
func (c *Conf) GetDefault(name, def string) string {
	if v := c.Get(name); v != "" {
		return v
	}
	return def
}

// List returns a comma-separated property as trimmed, non-empty elements in order.
func (c *Conf) List(name string) []string {
	var out []string
	for _, s := range strings.Split(c.Get(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Bool reports whether a property is "true" (case-insensitive).
func (c *Conf) Bool(name string) bool {
	return strings.EqualFold(c.Get(name), "true")
}

// SecurityAuthentication returns hadoop.security.authentication in lower case: "simple" (the default) or
// "kerberos".
func (c *Conf) SecurityAuthentication() string {
	return strings.ToLower(c.GetDefault("hadoop.security.authentication", "simple"))
}

// ZooKeeperQuorum returns the ZooKeeper connect string for Hadoop services: hadoop.zk.address, or the older
// yarn.resourcemanager.zk-address. It is "" when neither is set.
func (c *Conf) ZooKeeperQuorum() string {
	return c.GetDefault("hadoop.zk.address", c.Get("yarn.resourcemanager.zk-address"))
}

// ClusterID returns yarn.resourcemanager.cluster-id, or "" when unset.
func (c *Conf) ClusterID() string {
	return c.Get("yarn.resourcemanager.cluster-id")
}

// Kerberos reports whether hadoop.security.authentication is kerberos.
func (c *Conf) Kerberos() bool {
	return c.SecurityAuthentication() == "kerberos"
}

// NameNodeServicePrincipal returns dfs.namenode.kerberos.principal without its realm, such as hdfs/_HOST:
// the NameNodes' service principal as HDFS clients name it, _HOST standing for the host dialled. It is
// hdfs/_HOST when the property is unset.
func (c *Conf) NameNodeServicePrincipal() string {
	p, _, _ := strings.Cut(c.GetDefault("dfs.namenode.kerberos.principal", "hdfs/_HOST"), "@")
	return p
}

// DataTransferProtections returns the SASL protections a client accepts from the DataNodes, in its order of
// preference: [privacy] when dfs.encrypt.data.transfer is true, else the values listed in
// dfs.data.transfer.protection (authentication, integrity, privacy), in lower case; nil when neither is set.
// Hadoop's client negotiates the first of its list that the DataNode offers.
func (c *Conf) DataTransferProtections() []string {
	if c.Bool("dfs.encrypt.data.transfer") {
		return []string{"privacy"}
	}
	var out []string
	for _, v := range c.List("dfs.data.transfer.protection") {
		out = append(out, strings.ToLower(v))
	}
	return out
}
