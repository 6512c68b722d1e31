import java.io.File;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.kerby.kerberos.kerb.identity.backend.IdentityBackend;
import org.apache.kerby.kerberos.kerb.keytab.Keytab;
import org.apache.kerby.kerberos.kerb.keytab.KeytabEntry;
import org.apache.kerby.kerberos.kerb.request.KrbIdentity;
import org.apache.kerby.kerberos.kerb.server.SimpleKdcServer;
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
 * <p>MiniKdc keeps its principals in memory and makes random keys for them, the ticket-granting service's
 * ({@code krbtgt/<realm>}) included. To let the KDC be stopped and started again under a running cluster, as a real
 * KDC whose database survives a restart, the first start also writes every principal's keys, krbtgt's among them,
 * to {@code kdc-db.keytab}; with {@code -Dyarngate.kdc.restore=true} the KDC puts those keys back instead of making
 * new principals, and leaves the keytabs alone: tickets issued before the restart stay valid.
 *
 * <p>Kerby's own files and krb5.conf go to {@code <dir>/work}; the cluster writes its own krb5.conf. The process
 * prints {@code READY <realm> <port>} once every keytab is written (or the keys are restored), and runs until
 * SIGTERM.
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

    File db = new File(dir, "kdc-db.keytab");
    if (Boolean.parseBoolean(prop("kdc.restore", "false"))) {
      restore(kdc, db);
    } else {
      createPrincipals(kdc, dir, host, realm, db);
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

  /** Creates the cluster's principals with random keys, writes their keytabs and saves the database's keys to db. */
  private static void createPrincipals(MiniKdc kdc, File dir, String host, String realm, File db) throws Exception {
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
    Files.deleteIfExists(db.toPath());
    server(kdc).getKadmin().exportKeytab(db); // every principal, krbtgt/<realm> included
  }

  /** Puts the keys saved in db back into the KDC's database, replacing the random ones of this start. */
  private static void restore(MiniKdc kdc, File db) throws Exception {
    if (!db.isFile()) {
      throw new IllegalStateException(db + " is missing: the KDC was never started in this directory");
    }
    IdentityBackend backend = server(kdc).getKadmin().getIdentityBackend();
    Keytab saved = Keytab.loadKeytab(db);
    int n = 0;
    for (PrincipalName p : saved.getPrincipals()) {
      List<KeytabEntry> entries = saved.getKeytabEntries(p);
      KrbIdentity id = backend.getIdentity(p.getName());
      boolean known = id != null;
      if (!known) {
        id = new KrbIdentity(p.getName());
      }
      for (KeytabEntry e : entries) {
        id.addKey(e.getKey());
        id.setKeyVersion(e.getKvno());
      }
      if (known) {
        backend.updateIdentity(id);
      } else {
        backend.addIdentity(id);
      }
      n++;
    }
    System.out.println("restored the keys of " + n + " principals from " + db.getName());
  }

  /** MiniKdc's Kerby server (a private field: MiniKdc exposes no administration beyond creating principals). */
  private static SimpleKdcServer server(MiniKdc kdc) throws ReflectiveOperationException {
    Field f = MiniKdc.class.getDeclaredField("simpleKdc");
    f.setAccessible(true);
    return (SimpleKdcServer) f.get(kdc);
  }
}
