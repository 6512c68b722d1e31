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

    Configuration hconf = new Configuration();
    hconf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(base, "dfs").getPath());
    hconf.setInt("dfs.replication", 1);
    hconf.setBoolean("dfs.webhdfs.enabled", true);
    hconf.setBoolean("dfs.permissions.enabled", true);
    hconf.setBoolean("dfs.namenode.xattrs.enabled", true);
    hconf.set("fs.permissions.umask-mode", "022");
    hconf.set("hadoop.tmp.dir", new File(base, "tmp").getPath());
    hconf.set("dfs.namenode.safemode.extension", "0");
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
    mkdir(fs, "/flink", "1777", null);
    mkdir(fs, "/yarn", "755", null);
    mkdir(fs, "/yarn/logs", "1777", null);

    writeConf(confDir, base, host, nnPort, nnHttpPort);

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
  private static void writeConf(File dir, File base, String host, int nnPort, int nnHttpPort) throws IOException {
    int numRMs = intProp("rms", 1);
    int rmBasePort = intProp("rm.port", 18030); // scheduler; +1 tracker, +2 client, +3 admin; +100 per RM
    int rmWebPort = intProp("rm.web.port", 18088); // +1 per RM
    String zk = prop("zk", "localhost:12181");

    Map<String, String> core = new LinkedHashMap<>();
    core.put("fs.defaultFS", "hdfs://" + host + ":" + nnPort);
    core.put("hadoop.security.authentication", "simple");
    core.put("hadoop.http.staticuser.user", "dr.who");
    core.put("hadoop.tmp.dir", new File(base, "tmp").getPath());
    write(dir, "core-site.xml", core);

    Map<String, String> hdfs = new LinkedHashMap<>();
    hdfs.put("dfs.namenode.rpc-address", host + ":" + nnPort);
    hdfs.put("dfs.namenode.http-address", host + ":" + nnHttpPort);
    hdfs.put("dfs.replication", "1");
    hdfs.put("dfs.webhdfs.enabled", "true");
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
      y.put("yarn.resourcemanager.zk-timeout-ms", "4000");
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
    y.put("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "99.5");
    y.put("yarn.nodemanager.recovery.enabled", "false");
    y.put("yarn.log-aggregation-enable", "false");
    y.put("yarn.nodemanager.env-whitelist",
        "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,"
            + "HADOOP_YARN_HOME,HADOOP_HOME,PATH,LANG,TZ");
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

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
