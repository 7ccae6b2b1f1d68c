"""Entry point of the balance job for AWS Glue, spark-submit and python (same flags as `reviewcat balance`).

On Glue the job arguments arrive as --name value pairs; elsewhere: `spark-submit balance_reviews.py --help`.
"""
import sys

from reviewcat.prep import balance
from reviewcat.runtime.jobs import run_job

if __name__ == "__main__":
    sys.exit(run_job(sys.argv, balance.OPTIONS, "balance_reviews", balance.__doc__, balance.run))
