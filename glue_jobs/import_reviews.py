"""Entry point of the import job for AWS Glue, spark-submit and python (same flags as `reviewcat import`).

On Glue the job arguments arrive as --name value pairs; elsewhere: `spark-submit import_reviews.py --help`.
"""
import sys

from reviewcat.ingest import importer
from reviewcat.runtime.jobs import run_job

if __name__ == "__main__":
    sys.exit(run_job(sys.argv, importer.OPTIONS, "import_reviews", importer.__doc__, importer.run))
