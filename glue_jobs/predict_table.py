"""Entry point of the predict-table job for AWS Glue, spark-submit and python (same flags as
`reviewcat predict-table`).

On Glue the job arguments arrive as --name value pairs; elsewhere: `spark-submit predict_table.py --help`.
"""
import sys

from reviewcat.runtime.jobs import run_job
from reviewcat.scoring import predict_table

if __name__ == "__main__":
    sys.exit(run_job(sys.argv, predict_table.OPTIONS, "predict_table", predict_table.__doc__, predict_table.run))
