// MM2's own client library reads checkpoints from a cluster and prints what it translated.
//
// Usage: java -cp <dir>:<kafka libs>/* TranslateOffsets <bootstrap> <remote alias> <group>
//            <timeout ms> [key=value ...]
//
// Calls org.apache.kafka.connect.mirror.RemoteClusterUtils.translateOffsets against the cluster
// at <bootstrap> (the target, which holds `<remote alias>.checkpoints.internal`) and prints one
// line, `TRANSLATED ` then a JSON array of {"topic", "partition", "offset", "metadata"}, sorted
// by topic and partition. Extra key=value arguments are client properties (a replication policy
// or its separator). Compiled and run by tests/integration/test_mm2_interop.py.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public final class TranslateOffsets {
    private TranslateOffsets() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: TranslateOffsets <bootstrap> <remote alias> <group> <timeout ms> [k=v ...]");
            System.exit(64);
        }
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        for (int i = 4; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("not key=value: " + args[i]);
                System.exit(64);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        Map<TopicPartition, OffsetAndMetadata> translated = RemoteClusterUtils.translateOffsets(
                props, args[1], args[2], Duration.ofMillis(Long.parseLong(args[3])));
        List<Map.Entry<TopicPartition, OffsetAndMetadata>> entries = new ArrayList<>(translated.entrySet());
        entries.sort(Comparator.comparing((Map.Entry<TopicPartition, OffsetAndMetadata> e) -> e.getKey().topic())
                .thenComparingInt(e -> e.getKey().partition()));
        StringBuilder out = new StringBuilder("[");
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : entries) {
            if (out.length() > 1) {
                out.append(", ");
            }
            out.append("{\"topic\": ").append(quote(e.getKey().topic()))
                    .append(", \"partition\": ").append(e.getKey().partition())
                    .append(", \"offset\": ").append(e.getValue().offset())
                    .append(", \"metadata\": ").append(quote(e.getValue().metadata()))
                    .append('}');
        }
        out.append(']');
        System.out.println("TRANSLATED " + out);
    }

    /** A JSON string (RFC 8259): quote, backslash and control characters escaped. */
    private static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
