"""Entry point of the prepare job for AWS Glue, spark-submit and python (same flags as `reviewcat prepare`).

On Glue the job arguments arrive as --name value pairs; elsewhere: `spark-submit prepare_splits.py --help`.
"""
import sys

from reviewcat.prep import prepare
from reviewcat.runtime.jobs import run_job

if __name__ == "__main__":
    sys.exit(run_job(sys.argv, prepare.OPTIONS, "prepare_splits", prepare.__doc__, prepare.run))
