"""AWS: deploying the stack and the jobs, running the workflow, what it cost, the Glue zip."""
