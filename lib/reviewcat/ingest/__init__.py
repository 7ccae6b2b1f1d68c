"""Import: review dumps and exported tables into a Hive-partitioned parquet table, and the crawl."""
