import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.kerby.kerberos.kerb.keytab.Keytab;
import org.apache.kerby.kerberos.kerb.type.base.PrincipalName;

/**
 * The KDC of the Kerberized yarngate test cluster: Hadoop's MiniKdc (Apache Kerby) on a fixed loopback TCP port,
 * with the cluster's principals and their keytabs. It runs in a JVM of its own, started by testenv/cluster.sh
 * before ZooKeeper and HDFS, so the keys stay the same for the life of the cluster (a KDC restart would make new
 * random keys under running daemons).
 *
 * <p>Keytabs written into {@code -Dyarngate.kdc.dir}:
 * <ul>
 *   <li>{@code service.keytab}: {@code hdfs/<host>} (NameNode, DataNode), {@code yarn/<host>} (ResourceManager,
 *       NodeManager), {@code HTTP/<host>} (every SPNEGO endpoint);
 *   <li>{@code gateway.keytab}: the gateway's principal ({@code -Dyarngate.gateway.principal}, the cluster user);
 *   <li>{@code users.keytab}: the end users ({@code -Dyarngate.users}, default alice and bob); and one
 *       {@code <user>.keytab} each, with the same keys.
 * </ul>
 *
 * <p>Kerby's own files and krb5.conf go to {@code <dir>/work}; the cluster writes its own krb5.conf. The process
 * prints {@code READY <realm> <port>} once every keytab is written, and runs until SIGTERM.
 */
public final class Kdc {
  private static String prop(String key, String def) {
    return System.getProperty("yarngate." + key, def);
  }

  public static void main(String[] args) throws Exception {
    File dir = new File(prop("kdc.dir", "kdc")).getAbsoluteFile();
    File work = new File(dir, "work");
    Files.createDirectories(work.toPath());
    String host = prop("host", "localhost");
    String realm = prop("realm", "EXAMPLE.COM");
    int dot = realm.indexOf('.');
    if (dot <= 0 || dot == realm.length() - 1) {
      throw new IllegalArgumentException("realm " + realm + ": want NAME.DOMAIN, such as EXAMPLE.COM");
    }

    Properties conf = MiniKdc.createConf();
    conf.setProperty(MiniKdc.ORG_NAME, realm.substring(0, dot));
    conf.setProperty(MiniKdc.ORG_DOMAIN, realm.substring(dot + 1));
    conf.setProperty(MiniKdc.KDC_BIND_ADDRESS, host);
    conf.setProperty(MiniKdc.KDC_PORT, prop("kdc.port", "18800"));
    // Kerby reads this in seconds (MiniKdc's default of 86400000 is meant as ms, so effectively unlimited).
    conf.setProperty(MiniKdc.MAX_TICKET_LIFETIME, prop("kdc.max.ticket.lifetime", "86400"));
    MiniKdc kdc = new MiniKdc(conf, work);
    kdc.start();
    Runtime.getRuntime().addShutdownHook(new Thread(kdc::stop, "yarngate-kdc-shutdown"));
    if (!kdc.getRealm().equals(realm)) {
      throw new IllegalStateException("MiniKdc realm " + kdc.getRealm() + ", want " + realm);
    }

    kdc.createPrincipal(new File(dir, "service.keytab"), "hdfs/" + host, "yarn/" + host, "HTTP/" + host);
    kdc.createPrincipal(new File(dir, "gateway.keytab"), prop("gateway.principal", "yarngate"));
    String[] users = prop("users", "alice,bob").split(",");
    File usersKeytab = new File(dir, "users.keytab");
    kdc.createPrincipal(usersKeytab, users);
    Keytab all = Keytab.loadKeytab(usersKeytab);
    for (String user : users) {
      Keytab one = new Keytab();
      one.addKeytabEntries(all.getKeytabEntries(new PrincipalName(user + "@" + realm)));
      File f = new File(dir, user + ".keytab");
      Files.deleteIfExists(f.toPath());
      one.store(f);
    }
    List<String> keytabs = new ArrayList<>();
    for (File f : dir.listFiles((d, name) -> name.endsWith(".keytab"))) {
      f.setReadable(false, false);
      f.setReadable(true, true);
      keytabs.add(f.getName());
    }

    System.out.println("READY " + kdc.getRealm() + " " + kdc.getPort() + " " + String.join(" ", keytabs));
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
