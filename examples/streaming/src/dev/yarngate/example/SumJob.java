package dev.yarngate.example;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The yarngate example job. It uses only API that Flink 1.20 and 2.x share, so one jar runs on both.
 *
 * <pre>
 *   --mode bounded   --n N --output hdfs:///path   sums the squares of 1..N and writes "count=N sum=S" to the path
 *   --mode unbounded [--rate R]                    squares an endless sequence (R elements a second) until cancelled
 *   --fail                                         throws in main() before building the job (a failing submission)
 *   --record-args PATH -- ARG...                   writes every ARG after "--" to PATH, one per line as hex of its
 *                                                  UTF-8 bytes, so a test can check they reached main() exactly
 * </pre>
 */
public final class SumJob {
  private SumJob() {}

  public static void main(String[] args) throws Exception {
    String mode = "bounded";
    String output = null;
    long n = 1000;
    long rate = 10;
    String recordArgs = null;
    java.util.List<String> payload = new java.util.ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        payload.addAll(java.util.Arrays.asList(args).subList(i + 1, args.length));
        break;
      }
      switch (args[i]) {
        case "--mode": mode = args[++i]; break;
        case "--output": output = args[++i]; break;
        case "--n": n = Long.parseLong(args[++i]); break;
        case "--rate": rate = Long.parseLong(args[++i]); break;
        case "--record-args": recordArgs = args[++i]; break;
        case "--fail": throw new IllegalArgumentException("failing on purpose (--fail)");
        default: throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (recordArgs != null) {
      writeArgs(recordArgs, payload);
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    if (mode.equals("bounded")) {
      if (output == null) {
        throw new IllegalArgumentException("--output is required in bounded mode");
      }
      env.setRuntimeMode(RuntimeExecutionMode.BATCH);
      env.fromSequence(1, n)
          .map((MapFunction<Long, Long>) x -> x * x)
          .keyBy(x -> 0)
          .reduce((a, b) -> a + b)
          .map(new WriteResult(output, n))
          .setParallelism(1)
          .print();
      env.execute("yarngate-example-bounded");
    } else if (mode.equals("unbounded")) {
      final long sleepMillis = Math.max(1, 1000 / Math.max(1, rate));
      env.fromSequence(1, Long.MAX_VALUE)
          .map((MapFunction<Long, Long>) x -> {
            Thread.sleep(sleepMillis);
            return x * x;
          })
          .print();
      env.execute("yarngate-example-unbounded");
    } else {
      throw new IllegalArgumentException("--mode must be bounded or unbounded");
    }
  }

  private static void writeArgs(String output, java.util.List<String> payload) throws java.io.IOException {
    StringBuilder sb = new StringBuilder();
    for (String a : payload) {
      for (byte b : a.getBytes(StandardCharsets.UTF_8)) {
        sb.append(String.format("%02x", b));
      }
      sb.append('\n');
    }
    Path path = new Path(output);
    try (OutputStream out = path.getFileSystem().create(path, FileSystem.WriteMode.OVERWRITE)) {
      out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  /** Keeps the last running sum and writes it when the input has ended with every element counted. */
  static final class WriteResult extends RichMapFunction<Long, Long> {
    private final String output;
    private final long expected;
    private Long last;

    WriteResult(String output, long expected) {
      this.output = output;
      this.expected = expected;
    }

    @Override
    public Long map(Long value) {
      last = value;
      return value;
    }

    @Override
    public void close() throws Exception {
      if (last == null || last.longValue() != expected * (expected + 1) * (2 * expected + 1) / 6) {
        return; // cancelled or failed before the end: write nothing
      }
      Path path = new Path(output);
      FileSystem fs = path.getFileSystem();
      try (OutputStream out = fs.create(path, FileSystem.WriteMode.OVERWRITE)) {
        out.write(("count=" + expected + " sum=" + last + "\n").getBytes(StandardCharsets.UTF_8));
      }
    }
  }
}
