"""Entry point of the bias job for AWS Glue, spark-submit and python (same flags as `reviewcat bias`).

On Glue the job arguments arrive as --name value pairs; elsewhere: `spark-submit bias_report.py --help`.
"""
import sys

from reviewcat.prep import bias
from reviewcat.runtime.jobs import run_job

if __name__ == "__main__":
    sys.exit(run_job(sys.argv, bias.OPTIONS, "bias_report", bias.__doc__, bias.run))
