// GenLeader writes Flink leader-information payloads exactly as Flink's
// ZooKeeperUtils.writeLeaderInformationToZooKeeper does (ObjectOutputStream: writeUTF(address), then
// writeObject(leaderSessionID)), one file per case, as test vectors for zk.DecodeLeaderInformation.
//
// Regenerate from this directory with: java GenLeader.java
// The expected values live in leaderinfo_test.go; keep both in step.
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

public class GenLeader {
    public static void main(String[] args) throws Exception {
        write("gen-ipv4.bin", "http://10.0.0.12:41234", UUID.fromString("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
        write("gen-hostname.bin", "http://nm-host.example.com:8081",
                UUID.fromString("123e4567-e89b-12d3-a456-426614174000"));
        write("gen-pekko.bin", "pekko.tcp://flink@10.1.2.3:6123/user/rpc/dispatcher_1",
                UUID.fromString("ffffffff-ffff-ffff-8000-000000000001"));
        write("gen-unicode.bin", "http://h\u00e9llo\u0000w\u00f6rld/\ud83d\ude00:1",
                UUID.fromString("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"));
        write("gen-long.bin", "http://" + "a".repeat(3000) + ":1",
                UUID.fromString("00000000-0000-0001-0000-000000000002"));
        write("gen-empty-address.bin", "", UUID.fromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
        write("gen-null-session.bin", "http://10.0.0.12:41234", null);
    }

    static void write(String name, String address, UUID session) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeUTF(address);
            out.writeObject(session);
        }
        Files.write(Path.of(name), bytes.toByteArray());
    }
}
