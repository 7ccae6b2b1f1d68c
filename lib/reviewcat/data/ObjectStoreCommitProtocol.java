package reviewcat.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.OutputCommitter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.lib.output.PathOutputCommitter;
import org.apache.hadoop.mapreduce.lib.output.PathOutputCommitterFactory;
import org.apache.spark.internal.io.FileNameSpec;
import org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol;
import scala.Option;

/**
 * Spark's commit protocol, with the committer Hadoop chooses for the output's store on S3.
 *
 * <p>Spark's own protocol always commits through a FileOutputCommitter, which renames every task's
 * files, and S3 renames by copying. On s3://, s3a:// and s3n:// paths this one asks Hadoop's
 * committer factory instead (S3A's magic committer, as `reviewcat s3-jars` configures it) and has
 * tasks write into that committer's work path: each file is uploaded once, to its final key, and
 * appears there when the job commits. Other stores, and dynamic partition overwrite, which the S3A
 * committers do not support, keep Spark's protocol unchanged.
 */
public class ObjectStoreCommitProtocol extends SQLHadoopMapReduceCommitProtocol {
  private final String destination;
  private final boolean dynamicPartitionOverwrite;
  private transient PathOutputCommitter committer;

  public ObjectStoreCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
    super(jobId, path, dynamicPartitionOverwrite);
    this.destination = path;
    this.dynamicPartitionOverwrite = dynamicPartitionOverwrite;
  }

  private boolean onObjectStore() {
    if (destination == null || dynamicPartitionOverwrite) {
      return false;
    }
    String scheme = new Path(destination).toUri().getScheme();
    return "s3".equals(scheme) || "s3a".equals(scheme) || "s3n".equals(scheme);
  }

  @Override
  public OutputCommitter setupCommitter(TaskAttemptContext context) {
    if (!onObjectStore()) {
      return super.setupCommitter(context);
    }
    Path output = new Path(destination);
    try {
      committer = PathOutputCommitterFactory.getCommitterFactory(output, context.getConfiguration())
          .createOutputCommitter(output, context);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return committer;
  }

  @Override
  public String newTaskTempFile(TaskAttemptContext context, Option<String> dir, FileNameSpec spec) {
    if (committer == null) {
      return super.newTaskTempFile(context, dir, spec);
    }
    try {
      Path work = committer.getWorkPath();
      Path folder = dir.isDefined() ? new Path(work, dir.get()) : work;
      return new Path(folder, getFilename(context, spec)).toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
