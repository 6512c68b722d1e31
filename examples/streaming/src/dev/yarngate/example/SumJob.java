package dev.yarngate.example;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The yarngate example job. It uses only API that Flink 1.20 and 2.x share, so one jar runs on both.
 *
 * <pre>
 *   --mode bounded   --n N --output hdfs:///path   sums the squares of 1..N and writes "count=N sum=S" to the path
 *   --mode unbounded [--rate R]                    squares an endless sequence (R elements a second) until cancelled
 *   --mode counting --output DIR [--rate R] [--keys K]
 *                                                  counts an endless sequence 1, 2, 3, ... (R a second) into keyed
 *                                                  state (key = seq % K, default 4), with checkpointing on, and
 *                                                  writes one line "key count seq" per element to
 *                                                  a file under DIR: restored from a savepoint, each key's count
 *                                                  goes on from the last count before the stop, and the sequence
 *                                                  from the last number, so a test can check that nothing was
 *                                                  lost or counted twice
 *                  [--fail-attempts A --fail-after M]
 *                                                  (counting) each task attempt numbered below A (0, 1, ... of
 *                                                  one Flink job: a new job starts at 0 again) throws once it
 *                                                  has counted M elements, so the job restarts A times in a row
 *                                                  (a restart loop) and then runs on; the output files are
 *                                                  named DIR/part-JOBID-SUBTASK-ATTEMPT-TIME
 *   --fail                                         throws in main() before building the job (a failing submission)
 *   --record-args PATH -- ARG...                   writes every ARG after "--" to PATH, one per line as hex of its
 *                                                  UTF-8 bytes, so a test can check they reached main() exactly
 *   --jobs N                                       (bounded) runs N jobs one after another from this main(), each
 *                                                  submitted on its own as "sum-K", K = 1..N; job K writes to
 *                                                  OUTPUT-K (the --output path with "-K" appended). Without --jobs,
 *                                                  one job "yarngate-example-bounded" writes to OUTPUT itself
 *   --then-fail MESSAGE                            (bounded) once every job has finished and written its output,
 *                                                  throws IllegalStateException(MESSAGE) from main(): in application
 *                                                  mode YARN ends FAILED although the Flink job(s) FINISHED
 * </pre>
 *
 * <p>With --jobs or --then-fail, main() waits for each job to end before it goes on, whether the client is attached
 * or detached, so the jobs run one after another. Several jobs in one main() need application mode without
 * JobManager HA. These modes are meant for application clusters, not a session's /jars/run, which would wait for
 * the jobs to end.
 */
public final class SumJob {
  /** The line main() logs first; in application mode it lands in the JobManager's log (jobmanager.log). */
  static final String STARTED = "yarngate example SumJob main() started";

  private SumJob() {}

  public static void main(String[] args) throws Exception {
    org.slf4j.LoggerFactory.getLogger(SumJob.class).info("{} with {} arguments", STARTED, args.length);
    String mode = "bounded";
    String output = null;
    long n = 1000;
    long rate = 10;
    int keys = 4;
    int failAttempts = 0;
    long failAfter = 100;
    String recordArgs = null;
    int jobs = 0; // 0: no --jobs, the single job of old
    String thenFail = null;
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
        case "--keys": keys = Integer.parseInt(args[++i]); break;
        case "--fail-attempts": failAttempts = Integer.parseInt(args[++i]); break;
        case "--fail-after": failAfter = Long.parseLong(args[++i]); break;
        case "--record-args": recordArgs = args[++i]; break;
        case "--jobs":
          jobs = Integer.parseInt(args[++i]);
          if (jobs < 1) {
            throw new IllegalArgumentException("--jobs must be at least 1, not " + jobs);
          }
          break;
        case "--then-fail": thenFail = args[++i]; break;
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
      if (jobs == 0) {
        buildBounded(env, n, output);
        if (thenFail == null) {
          env.execute("yarngate-example-bounded");
        } else {
          runToEnd(env, "yarngate-example-bounded");
        }
      } else {
        for (int k = 1; k <= jobs; k++) {
          buildBounded(env, n, output + "-" + k);
          runToEnd(env, "sum-" + k);
        }
      }
      if (thenFail != null) {
        throw new IllegalStateException(thenFail);
      }
    } else if (mode.equals("unbounded")) {
      if (jobs != 0 || thenFail != null) {
        throw new IllegalArgumentException("--jobs and --then-fail need --mode bounded");
      }
      final long sleepMillis = Math.max(1, 1000 / Math.max(1, rate));
      env.fromSequence(1, Long.MAX_VALUE)
          .map((MapFunction<Long, Long>) x -> {
            Thread.sleep(sleepMillis);
            return x * x;
          })
          .print();
      env.execute("yarngate-example-unbounded");
    } else if (mode.equals("counting")) {
      if (output == null) {
        throw new IllegalArgumentException("--output is required in counting mode");
      }
      buildCounting(env, output, rate, keys, failAttempts, failAfter);
      env.execute("yarngate-example-counting");
    } else {
      throw new IllegalArgumentException("--mode must be bounded, unbounded or counting");
    }
  }

  /**
   * Adds the counting pipeline to env: a sequence source (its position is checkpointed), a rate limit, and a
   * keyed count that writes every element with its key's count. Every operator has a uid, so that a savepoint
   * maps to it again whatever else changes.
   */
  private static void buildCounting(StreamExecutionEnvironment env, String output, long rate, int keys, int failAttempts,
      long failAfter) {
    env.enableCheckpointing(2000);
    env.setParallelism(1);
    final long sleepMillis = Math.max(1, 1000 / Math.max(1, rate));
    final int k = Math.max(1, keys);
    env.fromSequence(1, Long.MAX_VALUE)
        .uid("sequence")
        .map((MapFunction<Long, Long>) x -> {
          Thread.sleep(sleepMillis);
          return x;
        })
        .uid("rate")
        .keyBy(x -> x % k)
        .process(new CountPerKey(output, failAttempts, failAfter))
        .uid("count")
        .filter(x -> false)
        .print();
  }

  /** Counts the elements of each key in keyed state and writes "key count seq" per element. */
  static final class CountPerKey extends KeyedProcessFunction<Long, Long, String> {
    private final String output;
    private final int failAttempts;
    private final long failAfter;
    private transient ValueState<Long> count;
    private transient OutputStream out;
    private transient long counted;

    CountPerKey(String output, int failAttempts, long failAfter) {
      this.output = output;
      this.failAttempts = failAttempts;
      this.failAfter = failAfter;
    }

    @Override
    public void open(OpenContext context) throws Exception {
      count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
      Path path = new Path(output + "/part-" + getRuntimeContext().getJobInfo().getJobId() + "-"
          + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask() + "-"
          + getRuntimeContext().getTaskInfo().getAttemptNumber() + "-" + System.currentTimeMillis());
      out = path.getFileSystem().create(path, FileSystem.WriteMode.NO_OVERWRITE);
    }

    @Override
    public void processElement(Long seq, Context ctx, Collector<String> collector) throws Exception {
      Long c = count.value();
      long next = (c == null ? 0 : c) + 1;
      count.update(next);
      String line = ctx.getCurrentKey() + " " + next + " " + seq;
      out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      collector.collect(line);
      counted++;
      int attempt = getRuntimeContext().getTaskInfo().getAttemptNumber();
      if (attempt < failAttempts && counted >= failAfter) {
        throw new IllegalStateException("failing on purpose (--fail-attempts): attempt " + attempt + " after " + counted + " elements");
      }
    }

    @Override
    public void close() throws Exception {
      if (out != null) {
        out.close();
      }
    }
  }

  /** Adds the bounded pipeline to env: the sum of the squares of 1..n, written to output. */
  private static void buildBounded(StreamExecutionEnvironment env, long n, String output) {
    env.fromSequence(1, n)
        .map((MapFunction<Long, Long>) x -> x * x)
        .keyBy(x -> 0)
        .reduce((a, b) -> a + b)
        .map(new WriteResult(output, n))
        .setParallelism(1)
        .print();
  }

  /**
   * Submits env's pipeline as job name and waits until the job has ended; a failed job throws. execute() alone
   * waits only when the client is attached (Flink's CLI without -d); detached (yarngate's launches) it returns
   * once the job is submitted, so sequential jobs would overlap and --then-fail would throw while the job runs.
   * Submitting clears env's transformations, so the next pipeline is built on the same environment from scratch.
   */
  private static void runToEnd(StreamExecutionEnvironment env, String name) throws Exception {
    JobClient client = env.executeAsync(name);
    client.getJobExecutionResult().get();
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
