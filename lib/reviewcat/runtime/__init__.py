"""Running a job: the session, the job runner, options, failures, progress, storage and staging.

The only layer that knows Glue from plain Spark. Its modules are imported one by one (this file
imports nothing), so a command that needs no Spark, ``reviewcat predict``, loads none of it.
"""
