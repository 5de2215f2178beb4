"""infersight: production ML observability."""
