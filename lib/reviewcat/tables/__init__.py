"""Tables: reading a partitioned review table (paths or catalog), registering it, writing results."""
