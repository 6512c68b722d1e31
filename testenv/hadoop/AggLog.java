import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Collections;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat;

/**
 * Writes an aggregated log file with Hadoop's own writer (AggregatedLogFormat.LogWriter, the TFile format the
 * NodeManager's log aggregation writes), for the yarngate tests of package yarnlogs.
 *
 * <p>Usage: java -cp HADOOP_CP AggLog.java OUT CODEC USER CONTAINER:FILE=BYTES ... — OUT is a local path or an
 * hdfs:// URI, CODEC none or gz (yarn.nodemanager.log-aggregation.compression-type). Each FILE of CONTAINER holds
 * BYTES bytes of numbered lines, "FILE line 000000001\n" and so on, the last one cut at BYTES; a container's files
 * are staged in a temporary directory first, as a NodeManager's log directory holds them.
 */
public final class AggLog {
  private AggLog() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      throw new IllegalArgumentException("usage: AggLog OUT CODEC USER CONTAINER:FILE=BYTES ...");
    }
    Configuration conf = new Configuration();
    conf.set("yarn.nodemanager.log-aggregation.compression-type", args[1]);
    String user = args[2];
    File root = Files.createTempDirectory("agglog").toFile();
    try {
      java.util.LinkedHashMap<String, java.util.List<String[]>> containers = new java.util.LinkedHashMap<>();
      for (int i = 3; i < args.length; i++) {
        String[] cf = args[i].split(":", 2);
        String[] fb = cf[1].split("=", 2);
        containers.computeIfAbsent(cf[0], k -> new java.util.ArrayList<>()).add(fb);
      }
      Path out = new Path(args[0]);
      UserGroupInformation ugi = UserGroupInformation.createRemoteUser(user);
      ugi.doAs((java.security.PrivilegedExceptionAction<Boolean>) () -> out.getFileSystem(conf).mkdirs(out.getParent()));
      AggregatedLogFormat.LogWriter w = new AggregatedLogFormat.LogWriter();
      w.initialize(conf, out, ugi);
      w.writeApplicationOwner(user);
      for (java.util.Map.Entry<String, java.util.List<String[]>> e : containers.entrySet()) {
        ContainerId id = ContainerId.fromString(e.getKey());
        File dir = new File(new File(root, id.getApplicationAttemptId().getApplicationId().toString()), e.getKey());
        dir.mkdirs();
        for (String[] fb : e.getValue()) {
          write(new File(dir, fb[0]), fb[0], Long.parseLong(fb[1]));
        }
        w.append(new AggregatedLogFormat.LogKey(id),
            new AggregatedLogFormat.LogValue(Collections.singletonList(root.getPath()), id, user));
      }
      w.close();
    } finally {
      try (java.util.stream.Stream<java.nio.file.Path> s = Files.walk(root.toPath())) {
        s.sorted(java.util.Comparator.reverseOrder()).map(java.nio.file.Path::toFile).forEach(File::delete);
      }
    }
  }

  /** Writes size bytes of numbered lines to f. */
  private static void write(File f, String name, long size) throws Exception {
    try (OutputStream out = new BufferedOutputStream(new FileOutputStream(f), 1 << 20)) {
      // "<name> line 000000001\n": the prefix, nine digits counted up in place, a newline.
      byte[] prefix = (name + " line ").getBytes(StandardCharsets.UTF_8);
      byte[] b = new byte[prefix.length + 10];
      System.arraycopy(prefix, 0, b, 0, prefix.length);
      java.util.Arrays.fill(b, prefix.length, b.length - 1, (byte) '0');
      b[b.length - 1] = '\n';
      long written = 0;
      while (written < size) {
        for (int i = b.length - 2; ; i--) { // count up by one
          if (b[i] != '9') {
            b[i]++;
            break;
          }
          b[i] = '0';
        }
        int n = (int) Math.min(b.length, size - written);
        out.write(b, 0, n);
        written += n;
      }
    }
  }
}
