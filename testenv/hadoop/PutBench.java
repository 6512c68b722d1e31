import java.io.FileInputStream;
import java.io.InputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.IOUtils;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * Baseline for yarngate's upload benchmark: copies a local file into HDFS with Hadoop's own client, the way
 * {@code hdfs dfs -put} does (FileSystem.create + IOUtils.copyBytes), and prints the copy's wall time in
 * nanoseconds, excluding JVM start-up and the Kerberos login. Usage: PutBench LOCAL_FILE HDFS_PATH [USER] on a
 * simple cluster, PutBench LOCAL_FILE HDFS_PATH PRINCIPAL KEYTAB on a Kerberized one (with
 * -Djava.security.krb5.conf). The Hadoop conf comes from HADOOP_CONF_DIR on the classpath.
 */
public final class PutBench {
  public static void main(String[] args) throws Exception {
    UserGroupInformation ugi;
    if (args.length > 3) {
      UserGroupInformation.setConfiguration(new Configuration());
      ugi = UserGroupInformation.loginUserFromKeytabAndReturnUGI(args[2], args[3]);
    } else {
      ugi = UserGroupInformation.createRemoteUser(args.length > 2 ? args[2] : System.getProperty("user.name"));
    }
    long nanos = ugi.doAs((java.security.PrivilegedExceptionAction<Long>) () -> {
      Configuration conf = new Configuration();
      Path dst = new Path(args[1]);
      FileSystem fs = dst.getFileSystem(conf);
      fs.exists(new Path("/")); // connect before the clock starts
      long t0 = System.nanoTime();
      try (InputStream in = new FileInputStream(args[0]); FSDataOutputStream out = fs.create(dst, true)) {
        IOUtils.copyBytes(in, out, conf.getInt("io.file.buffer.size", 4096) * 16, false);
      }
      long elapsed = System.nanoTime() - t0;
      fs.delete(dst, false);
      return elapsed;
    });
    System.out.println(nanos);
  }
}
