import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * Starts the HDFS half of the yarngate test cluster (a MiniDFSCluster with one DataNode on loopback, fixed NameNode
 * ports) and writes the Hadoop configuration that the YARN daemons and every client use: a shared conf dir
 * ({@code core-site.xml}, {@code hdfs-site.xml}, {@code yarn-site.xml}) and, in HA mode, one conf dir per
 * ResourceManager that adds its {@code yarn.resourcemanager.ha.id}.
 *
 * <p>The ResourceManager(s) and the NodeManager run as separate JVMs started by testenv/cluster.sh from the same
 * jars: RM and NM web apps cannot share one JVM (Guice's GuiceFilter pipeline is static, so the last web app
 * started answers on every port).
 *
 * <p>With {@code -Dyarngate.kerberos=1} the cluster is Kerberized: the NameNode and DataNode log in from
 * {@code -Dyarngate.keytab} as {@code hdfs/<host>@<realm>}, RPC needs Kerberos (or a delegation token), the DataNode
 * speaks SASL on data transfer (without privileged ports: {@code ignore.secure.ports.for.testing}), WebHDFS and
 * every Hadoop web endpoint need SPNEGO as {@code HTTP/<host>}, and the gateway's principal may act for other users
 * (proxy user). The JVM must be started with {@code -Djava.security.krb5.conf}.
 *
 * <p>Settings come from {@code -Dyarngate.*} system properties; the process prints {@code READY} on stdout once
 * HDFS is writable and the conf is written, and runs until SIGTERM.
 */
public final class Launcher {
  private static String prop(String key, String def) {
    return System.getProperty("yarngate." + key, def);
  }

  private static int intProp(String key, int def) {
    return Integer.parseInt(prop(key, Integer.toString(def)));
  }

  public static void main(String[] args) throws Exception {
    File base = new File(prop("base", "hadoop")).getAbsoluteFile();
    File confDir = new File(prop("conf.dir", new File(base, "conf").getPath())).getAbsoluteFile();
    String host = prop("host", "localhost");
    String user = prop("user", "yarngate");
    int nnPort = intProp("nn.port", 19000);
    int nnHttpPort = intProp("nn.http.port", 19870);

    Files.createDirectories(confDir.toPath());
    Kerberos krb = Kerberos.fromProps(host, user);

    Configuration hconf = new Configuration();
    hconf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(base, "dfs").getPath());
    hconf.setInt("dfs.replication", 1);
    hconf.setBoolean("dfs.webhdfs.enabled", true);
    hconf.setBoolean("dfs.permissions.enabled", true);
    hconf.setBoolean("dfs.namenode.xattrs.enabled", true);
    hconf.set("fs.permissions.umask-mode", "022");
    hconf.set("hadoop.tmp.dir", new File(base, "tmp").getPath());
    hconf.set("dfs.namenode.safemode.extension", "0");
    if (krb != null) {
      krb.secureDfs(hconf);
      UserGroupInformation.setConfiguration(hconf);
      UserGroupInformation.loginUserFromKeytab(krb.hdfs, krb.keytab);
    }
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(hconf)
        .nameNodePort(nnPort)
        .nameNodeHttpPort(nnHttpPort)
        .numDataNodes(1)
        .format(true)
        .build();
    Runtime.getRuntime().addShutdownHook(new Thread(dfs::shutdown, "yarngate-dfs-shutdown"));
    dfs.waitClusterUp();
    dfs.waitActive();

    FileSystem fs = dfs.getFileSystem();
    mkdir(fs, "/tmp", "1777", null);
    mkdir(fs, "/user", "755", null);
    mkdir(fs, "/user/" + user, "755", user);
    if (krb != null) {
      for (String u : krb.users) {
        mkdir(fs, "/user/" + u, "755", u);
      }
    }
    mkdir(fs, "/flink", "1777", null);
    mkdir(fs, "/yarn", "755", null);
    mkdir(fs, "/yarn/logs", "1777", null);

    writeConf(confDir, base, host, nnPort, nnHttpPort, krb);

    System.out.println("READY hdfs://" + host + ":" + nnPort);
    System.out.flush();
    new CountDownLatch(1).await();
  }

  private static void mkdir(FileSystem fs, String path, String perm, String owner) throws IOException {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
    fs.mkdirs(p);
    fs.setPermission(p, new FsPermission(perm));
    if (owner != null) {
      fs.setOwner(p, owner, "supergroup");
    }
  }

  /** Writes the shared conf dir and, with more than one RM, a conf dir per RM id. */
  private static void writeConf(File dir, File base, String host, int nnPort, int nnHttpPort, Kerberos krb)
      throws IOException {
    int numRMs = intProp("rms", 1);
    int rmBasePort = intProp("rm.port", 18030); // scheduler; +1 tracker, +2 client, +3 admin; +100 per RM
    int rmWebPort = intProp("rm.web.port", 18088); // +1 per RM
    String zk = prop("zk", "localhost:12181");

    Map<String, String> core = new LinkedHashMap<>();
    core.put("fs.defaultFS", "hdfs://" + host + ":" + nnPort);
    core.put("hadoop.security.authentication", "simple");
    core.put("hadoop.http.staticuser.user", "dr.who");
    core.put("hadoop.tmp.dir", new File(base, "tmp").getPath());
    if (krb != null) {
      krb.clientCore(core);
    }
    write(dir, "core-site.xml", core);

    Map<String, String> hdfs = new LinkedHashMap<>();
    hdfs.put("dfs.namenode.rpc-address", host + ":" + nnPort);
    hdfs.put("dfs.namenode.http-address", host + ":" + nnHttpPort);
    hdfs.put("dfs.replication", "1");
    hdfs.put("dfs.webhdfs.enabled", "true");
    if (krb != null) {
      krb.clientHdfs(hdfs);
    }
    write(dir, "hdfs-site.xml", hdfs);

    Map<String, String> y = new LinkedHashMap<>();
    List<String> ids = new ArrayList<>();
    if (numRMs > 1) {
      for (int i = 0; i < numRMs; i++) {
        ids.add("rm" + (i + 1));
      }
      y.put("yarn.resourcemanager.ha.enabled", "true");
      y.put("yarn.resourcemanager.ha.rm-ids", String.join(",", ids));
      y.put("yarn.resourcemanager.cluster-id", prop("cluster.id", "yarngate-test"));
      y.put("yarn.resourcemanager.ha.automatic-failover.enabled", "true");
      y.put("yarn.resourcemanager.ha.automatic-failover.embedded", "true");
      y.put("yarn.resourcemanager.ha.automatic-failover.zk-base-path", "/yarn-leader-election");
      y.put("hadoop.zk.address", zk);
      // Hadoop's default ZooKeeper session timeout (hadoop.zk.timeout-ms). 4 s made failover faster, but on a
      // loaded 2-core machine the standby once stayed standby for over 90 s after the active RM was killed.
      y.put("hadoop.zk.timeout-ms", "10000");
      y.put("yarn.resourcemanager.recovery.enabled", "true");
      y.put("yarn.resourcemanager.store.class",
          "org.apache.hadoop.yarn.server.resourcemanager.recovery.ZKRMStateStore");
      y.put("yarn.resourcemanager.work-preserving-recovery.enabled", "true");
      y.put("yarn.client.failover-sleep-base-ms", "200");
      y.put("yarn.client.failover-sleep-max-ms", "1000");
      for (int i = 0; i < numRMs; i++) {
        rmAddresses(y, "." + ids.get(i), host, rmBasePort + 100 * i, rmWebPort + i);
        y.put("yarn.resourcemanager.hostname." + ids.get(i), host);
      }
    } else {
      rmAddresses(y, "", host, rmBasePort, rmWebPort);
    }
    y.put("yarn.resourcemanager.scheduler.class",
        "org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler");
    y.put("yarn.scheduler.minimum-allocation-mb", "64");
    y.put("yarn.scheduler.maximum-allocation-mb", prop("max.allocation.mb", "8192"));
    y.put("yarn.scheduler.maximum-allocation-vcores", "8");
    y.put("yarn.resourcemanager.am.max-attempts", "4");
    y.put("yarn.resourcemanager.max-completed-applications", prop("max.completed.apps", "1000"));
    y.put("yarn.resourcemanager.state-store.max-completed-applications", prop("max.completed.apps", "1000"));
    // An AM must register within this; a JobManager on a loaded 2-core machine can take well over 30 s.
    y.put("yarn.am.liveness-monitor.expiry-interval-ms", "180000");
    y.put("yarn.nm.liveness-monitor.expiry-interval-ms", "30000");
    y.put("yarn.resourcemanager.connect.retry-interval.ms", "1000");
    y.put("yarn.application.classpath", String.join(",",
        "{{HADOOP_CONF_DIR}}",
        "{{HADOOP_COMMON_HOME}}/share/hadoop/common/*",
        "{{HADOOP_COMMON_HOME}}/share/hadoop/common/lib/*",
        "{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/*",
        "{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/lib/*",
        "{{HADOOP_YARN_HOME}}/share/hadoop/yarn/*",
        "{{HADOOP_YARN_HOME}}/share/hadoop/yarn/lib/*"));
    // NodeManager: sized for several Flink clusters at once; no resource enforcement on a shared test box.
    y.put("yarn.nodemanager.hostname", host);
    y.put("yarn.nodemanager.address", host + ":0");
    y.put("yarn.nodemanager.localizer.address", host + ":" + prop("nm.localizer.port", "18040"));
    y.put("yarn.nodemanager.webapp.address", host + ":" + prop("nm.web.port", "18042"));
    y.put("yarn.nodemanager.resource.memory-mb", prop("nm.memory.mb", "12288"));
    y.put("yarn.nodemanager.resource.cpu-vcores", "64");
    y.put("yarn.nodemanager.resource.detect-hardware-capabilities", "false");
    y.put("yarn.nodemanager.pmem-check-enabled", "false");
    y.put("yarn.nodemanager.vmem-check-enabled", "false");
    y.put("yarn.nodemanager.local-dirs", new File(base, "nm-local").getPath());
    y.put("yarn.nodemanager.log-dirs", new File(base, "nm-logs").getPath());
    y.put("yarn.nodemanager.delete.debug-delay-sec", "600");
    // The NodeManager marks its directories bad (and offers no resources: AMs stay ACCEPTED, Flink reports "0 virtual
    // cores available") when the disk is fuller than a percentage. On a large, shared disk a percentage says little;
    // what matters is room for localized jars and container logs, so the cut-off is an absolute 1 GiB.
    y.put("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "100.0");
    y.put("yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb", "1024");
    y.put("yarn.nodemanager.recovery.enabled", "false");
    // Log aggregation: a finished container's logs move to HDFS (TFile controller, the default layout of 3.4:
    // <remote-app-log-dir>/<user>/bucket-logs-tfile/<bucket>/<appId>/<host>_<port>), where the gateway's log
    // routes read them (package yarnlogs). The local copies stay for delete.debug-delay-sec after that.
    // Off with -Dyarngate.log.aggregation=0, and always on a Kerberized cluster: a secure NodeManager opens the
    // container logs it aggregates through SecureIOUtils, which needs Hadoop's native library (absent here), and the
    // NodeManager exits on the first aggregation without it.
    boolean aggregate = "1".equals(prop("log.aggregation", "1")) && !"1".equals(prop("kerberos", "0"));
    y.put("yarn.log-aggregation-enable", String.valueOf(aggregate));
    y.put("yarn.nodemanager.remote-app-log-dir", "/tmp/logs");
    y.put("yarn.nodemanager.remote-app-log-dir-suffix", "logs");
    y.put("yarn.log-aggregation.retain-seconds", "86400");
    y.put("yarn.nodemanager.env-whitelist",
        "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,"
            + "HADOOP_YARN_HOME,HADOOP_HOME,PATH,LANG,TZ");
    if (krb != null) {
      krb.yarn(y);
    }
    write(dir, "yarn-site.xml", y);

    for (String id : ids) {
      File rmDir = new File(dir.getParentFile(), "conf-" + id);
      Files.createDirectories(rmDir.toPath());
      write(rmDir, "core-site.xml", core);
      write(rmDir, "hdfs-site.xml", hdfs);
      Map<String, String> own = new LinkedHashMap<>(y);
      own.put("yarn.resourcemanager.ha.id", id);
      write(rmDir, "yarn-site.xml", own);
    }
  }

  private static void rmAddresses(Map<String, String> y, String suffix, String host, int port, int webPort) {
    y.put("yarn.resourcemanager.scheduler.address" + suffix, host + ":" + port);
    y.put("yarn.resourcemanager.resource-tracker.address" + suffix, host + ":" + (port + 1));
    y.put("yarn.resourcemanager.address" + suffix, host + ":" + (port + 2));
    y.put("yarn.resourcemanager.admin.address" + suffix, host + ":" + (port + 3));
    y.put("yarn.resourcemanager.webapp.address" + suffix, host + ":" + webPort);
  }

  private static void write(File dir, String name, Map<String, String> props) throws IOException {
    Path tmp = Files.createTempFile(dir.toPath(), name, ".tmp");
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(tmp, StandardCharsets.UTF_8))) {
      w.println("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
      w.println("<!-- Written by the yarngate test cluster launcher (testenv/hadoop/Launcher.java). -->");
      w.println("<configuration>");
      for (Map.Entry<String, String> e : props.entrySet()) {
        w.println("  <property><name>" + esc(e.getKey()) + "</name><value>" + esc(e.getValue())
            + "</value></property>");
      }
      w.println("</configuration>");
    }
    Files.move(tmp, dir.toPath().resolve(name), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  /** The Kerberos settings of a Kerberized cluster; null from {@link #fromProps} when the cluster is not one. */
  private static final class Kerberos {
    final String realm;
    final String keytab; // service keytab: hdfs/, yarn/ and HTTP/<host>
    final String hdfs;
    final String yarn;
    final String http;
    final String gatewayUser; // short name of the gateway's principal, the proxy user
    final List<String> users;

    private Kerberos(String realm, String keytab, String host, String gatewayUser, List<String> users) {
      this.realm = realm;
      this.keytab = keytab;
      this.hdfs = "hdfs/" + host + "@" + realm;
      this.yarn = "yarn/" + host + "@" + realm;
      this.http = "HTTP/" + host + "@" + realm;
      this.gatewayUser = gatewayUser;
      this.users = users;
    }

    static Kerberos fromProps(String host, String gatewayUser) {
      if (!"1".equals(prop("kerberos", "0"))) {
        return null;
      }
      String keytab = prop("keytab", null);
      if (keytab == null || !new File(keytab).canRead()) {
        throw new IllegalArgumentException("-Dyarngate.keytab: no readable service keytab (" + keytab + ")");
      }
      List<String> users = new ArrayList<>();
      for (String u : prop("users", "alice,bob").split(",")) {
        if (!u.isBlank()) {
          users.add(u.trim());
        }
      }
      return new Kerberos(prop("realm", "EXAMPLE.COM"), keytab, host, gatewayUser, users);
    }

    /** The NameNode's and DataNode's own settings (they run in this JVM). */
    void secureDfs(Configuration c) {
      Map<String, String> m = new LinkedHashMap<>();
      common(m);
      m.put("dfs.namenode.kerberos.principal", hdfs);
      m.put("dfs.namenode.keytab.file", keytab);
      m.put("dfs.datanode.kerberos.principal", hdfs);
      m.put("dfs.datanode.keytab.file", keytab);
      // The NameNode's internal SPNEGO servlets; WebHDFS itself takes hadoop.http.authentication.* (common).
      m.put("dfs.web.authentication.kerberos.principal", http);
      m.put("dfs.web.authentication.kerberos.keytab", keytab);
      m.put("dfs.block.access.token.enable", "true");
      // No privileged ports and no TLS: SASL on data transfer is what a secure DataNode then needs.
      m.put("ignore.secure.ports.for.testing", "true");
      // What the DataNode offers, in its order (colinmarc takes the first offer; Java clients choose theirs).
      m.put("dfs.data.transfer.protection", dataTransferProtection());
      String v = prop("dt.max.lifetime.ms", "");
      if (!v.isEmpty()) {
        m.put("dfs.namenode.delegation.token.max-lifetime", v);
      }
      v = prop("dt.renew.interval.ms", "");
      if (!v.isEmpty()) {
        m.put("dfs.namenode.delegation.token.renew-interval", v);
      }
      m.forEach(c::set);
    }

    /**
     * The DataNode's dfs.data.transfer.protection ({@code -Dyarngate.data.transfer.protection}, default
     * authentication): a comma list, such as authentication,privacy.
     */
    static String dataTransferProtection() {
      return prop("data.transfer.protection", "authentication");
    }

    /** Settings every process shares through core-site.xml. */
    void clientCore(Map<String, String> core) {
      common(core);
      // Without this initializer the ResourceManager installs no authentication filter at all.
      core.put("hadoop.http.filter.initializers", "org.apache.hadoop.security.AuthenticationFilterInitializer");
    }

    private void common(Map<String, String> m) {
      m.put("hadoop.security.authentication", "kerberos");
      m.put("hadoop.security.authorization", "true");
      m.put("hadoop.rpc.protection", "authentication");
      m.put("hadoop.http.authentication.type", "kerberos");
      m.put("hadoop.http.authentication.kerberos.principal", http);
      m.put("hadoop.http.authentication.kerberos.keytab", keytab);
      m.put("hadoop.http.authentication.simple.anonymous.allowed", "false");
      m.put("hadoop.proxyuser." + gatewayUser + ".hosts", "*");
      m.put("hadoop.proxyuser." + gatewayUser + ".groups", "*");
      m.put("hadoop.proxyuser." + gatewayUser + ".users", "*");
    }

    /** What HDFS clients (the RM renewing tokens, the NM localizing, containers, Flink) need. */
    void clientHdfs(Map<String, String> hdfsSite) {
      hdfsSite.put("dfs.namenode.kerberos.principal", hdfs);
      hdfsSite.put("dfs.datanode.kerberos.principal", hdfs);
      // Clients accept authentication when the DataNode offers it, else its first offer: a DataNode offering
      // privacy,authentication keeps every client of the cluster on authentication (Java clients choose the
      // first of their own list that is offered).
      String clients = dataTransferProtection().split(",")[0].trim();
      for (String p : dataTransferProtection().split(",")) {
        if (p.trim().equals("authentication")) {
          clients = "authentication";
        }
      }
      hdfsSite.put("dfs.data.transfer.protection", clients);
      hdfsSite.put("dfs.block.access.token.enable", "true");
    }

    void yarn(Map<String, String> y) {
      y.put("yarn.resourcemanager.principal", yarn);
      y.put("yarn.resourcemanager.keytab", keytab);
      y.put("yarn.nodemanager.principal", yarn);
      y.put("yarn.nodemanager.keytab", keytab);
      y.put("yarn.resourcemanager.webapp.spnego-principal", http);
      y.put("yarn.resourcemanager.webapp.spnego-keytab-file", keytab);
      y.put("yarn.nodemanager.webapp.spnego-principal", http);
      y.put("yarn.nodemanager.webapp.spnego-keytab-file", keytab);
      // Containers run as the NodeManager's OS user; the application's user only names its directories and
      // tokens. The LinuxContainerExecutor needs a setuid native binary that Maven does not ship.
      y.put("yarn.nodemanager.container-executor.class",
          "org.apache.hadoop.yarn.server.nodemanager.DefaultContainerExecutor");
    }
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
