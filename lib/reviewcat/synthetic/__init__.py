"""Generated data: review tables, review dumps in the real formats, and support tickets."""
