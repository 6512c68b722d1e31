package hadoopconf

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Default ports of Hadoop 3 daemons, used when a property gives a host without a port.
const (
	DefaultNameNodeRPCPort   = "8020"
	DefaultNameNodeHTTPPort  = "9870"
	DefaultNameNodeHTTPSPort = "9871"
	DefaultRMWebPort         = "8088"
	DefaultRMWebHTTPSPort    = "8090"
)

// DefaultFS returns fs.defaultFS (or the deprecated fs.default.name), such as hdfs://mycluster.
func (c *Conf) DefaultFS() string {
	return c.GetDefault("fs.defaultFS", c.Get("fs.default.name"))
}

// nameNodes describes the NameNodes behind fs.defaultFS.
type nameNodes struct {
	nameservice string   // "" when fs.defaultFS names a single host
	ids         []string // dfs.ha.namenodes.<ns>, empty without HA
	rpc         []string // host:port, in configuration order
}

// resolveNameNodes works out the NameNodes of the default file system: for an HA nameservice those listed
// in dfs.ha.namenodes.<ns> in that order, for a non-HA nameservice dfs.namenode.rpc-address.<ns>, and
// otherwise the host and port of fs.defaultFS itself.
func (c *Conf) resolveNameNodes() (nameNodes, error) {
	fs := c.DefaultFS()
	if fs == "" {
		return nameNodes{}, fmt.Errorf("fs.defaultFS: %w", ErrNotConfigured)
	}
	u, err := url.Parse(fs)
	if err != nil || u.Host == "" {
		return nameNodes{}, fmt.Errorf("fs.defaultFS %q is not a URI with an authority: %w", fs, ErrNotConfigured)
	}
	if u.Scheme != "hdfs" {
		return nameNodes{}, fmt.Errorf("fs.defaultFS %q is not an hdfs:// file system: %w", fs, ErrNotConfigured)
	}
	host := u.Hostname()
	if u.Port() == "" && c.isNameservice(host) {
		ns := host
		ids := c.List("dfs.ha.namenodes." + ns)
		if len(ids) == 0 {
			addr := c.Get("dfs.namenode.rpc-address." + ns)
			if addr == "" {
				return nameNodes{}, fmt.Errorf("nameservice %s has neither dfs.ha.namenodes.%s nor dfs.namenode.rpc-address.%s: %w", ns, ns, ns, ErrNotConfigured)
			}
			return nameNodes{nameservice: ns, rpc: []string{addr}}, nil
		}
		out := nameNodes{nameservice: ns, ids: ids}
		for _, id := range ids {
			key := "dfs.namenode.rpc-address." + ns + "." + id
			addr := c.Get(key)
			if addr == "" {
				return nameNodes{}, fmt.Errorf("%s: %w", key, ErrNotConfigured)
			}
			out.rpc = append(out.rpc, addr)
		}
		return out, nil
	}
	port := u.Port()
	if port == "" {
		port = DefaultNameNodeRPCPort
	}
	return nameNodes{rpc: []string{net.JoinHostPort(host, port)}}, nil
}

// isNameservice reports whether name is a logical nameservice rather than a host name.
func (c *Conf) isNameservice(name string) bool {
	for _, ns := range c.List("dfs.nameservices") {
		if ns == name {
			return true
		}
	}
	return c.Get("dfs.ha.namenodes."+name) != "" || c.Get("dfs.namenode.rpc-address."+name) != ""
}

// NameNodeRPCAddresses returns the RPC addresses (host:port) of the NameNodes serving fs.defaultFS, in
// configuration order, ready for failover: with HA, all NameNodes of that one nameservice.
func (c *Conf) NameNodeRPCAddresses() ([]string, error) {
	nn, err := c.resolveNameNodes()
	if err != nil {
		return nil, err
	}
	return nn.rpc, nil
}

// NameNodeHTTPURLs returns the web (WebHDFS) base URLs of the NameNodes serving fs.defaultFS, in the same
// order as NameNodeRPCAddresses: https:// with dfs.http.policy=HTTPS_ONLY, http:// otherwise. A missing or
// wildcard address falls back to the NameNode's RPC host with the default port.
func (c *Conf) NameNodeHTTPURLs() ([]string, error) {
	nn, err := c.resolveNameNodes()
	if err != nil {
		return nil, err
	}
	scheme, key, port := "http", "dfs.namenode.http-address", DefaultNameNodeHTTPPort
	if strings.EqualFold(c.Get("dfs.http.policy"), "HTTPS_ONLY") {
		scheme, key, port = "https", "dfs.namenode.https-address", DefaultNameNodeHTTPSPort
	}
	urls := make([]string, 0, len(nn.rpc))
	for i, rpc := range nn.rpc {
		var addr string
		switch {
		case len(nn.ids) > 0:
			addr = c.Get(key + "." + nn.nameservice + "." + nn.ids[i])
		case nn.nameservice != "":
			addr = c.GetDefault(key+"."+nn.nameservice, c.Get(key))
		default:
			addr = c.Get(key)
		}
		rpcHost, _, err := net.SplitHostPort(rpc)
		if err != nil {
			return nil, fmt.Errorf("NameNode RPC address %q: %w", rpc, ErrNotConfigured)
		}
		addr, err = withHost(addr, rpcHost, port)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		urls = append(urls, scheme+"://"+addr)
	}
	return urls, nil
}

// HDFSTokenService returns the service HDFS delegation tokens of the default file system must name for
// clients to select them: ha-hdfs:<nameservice> for an HA nameservice, "" otherwise (the NameNode's own
// choice, its RPC address, is then right).
func (c *Conf) HDFSTokenService() string {
	nn, err := c.resolveNameNodes()
	if err != nil || len(nn.ids) == 0 {
		return ""
	}
	return "ha-hdfs:" + nn.nameservice
}

// RM is one ResourceManager's web endpoint.
type RM struct {
	// ID is the rm-id from yarn.resourcemanager.ha.rm-ids, or "" without RM HA.
	ID string
	// URL is the base URL of the RM web services, such as http://rm1.example.com:8088.
	URL string
}

// ResourceManagers returns the web endpoints of the ResourceManagers. With yarn.resourcemanager.ha.enabled
// it lists every id of yarn.resourcemanager.ha.rm-ids in order, using
// yarn.resourcemanager.webapp.address.<id> (webapp.https.address.<id> under yarn.http.policy=HTTPS_ONLY) and
// falling back to yarn.resourcemanager.hostname.<id> with the default port; without HA it returns the single
// yarn.resourcemanager.webapp.address (or yarn.resourcemanager.hostname with the default port).
func (c *Conf) ResourceManagers() ([]RM, error) {
	scheme, key, port := "http", "yarn.resourcemanager.webapp.address", DefaultRMWebPort
	if strings.EqualFold(c.Get("yarn.http.policy"), "HTTPS_ONLY") {
		scheme, key, port = "https", "yarn.resourcemanager.webapp.https.address", DefaultRMWebHTTPSPort
	}
	if !c.Bool("yarn.resourcemanager.ha.enabled") {
		addr, err := withHost(c.Get(key), c.Get("yarn.resourcemanager.hostname"), port)
		if err != nil {
			return nil, fmt.Errorf("%s / yarn.resourcemanager.hostname: %w", key, err)
		}
		return []RM{{URL: scheme + "://" + addr}}, nil
	}
	ids := c.List("yarn.resourcemanager.ha.rm-ids")
	if len(ids) == 0 {
		return nil, fmt.Errorf("RM HA is enabled but yarn.resourcemanager.ha.rm-ids is empty: %w", ErrNotConfigured)
	}
	rms := make([]RM, 0, len(ids))
	for _, id := range ids {
		addr, err := withHost(c.Get(key+"."+id), c.Get("yarn.resourcemanager.hostname."+id), port)
		if err != nil {
			return nil, fmt.Errorf("%s.%s / yarn.resourcemanager.hostname.%s: %w", key, id, id, err)
		}
		rms = append(rms, RM{ID: id, URL: scheme + "://" + addr})
	}
	return rms, nil
}

// withHost completes a host:port address: an empty address becomes host:defPort, and a wildcard host
// (0.0.0.0, as daemons bind) is replaced by host. It fails when no usable host is known.
func withHost(addr, host, defPort string) (string, error) {
	if addr == "" {
		if host == "" || host == "0.0.0.0" {
			return "", ErrNotConfigured
		}
		return net.JoinHostPort(host, defPort), nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, ErrNotConfigured)
	}
	if h == "" || h == "0.0.0.0" {
		if host == "" || host == "0.0.0.0" {
			return "", fmt.Errorf("address %q has a wildcard host: %w", addr, ErrNotConfigured)
		}
		h = host
	}
	return net.JoinHostPort(h, p), nil
}
