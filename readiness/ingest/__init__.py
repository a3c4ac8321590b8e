"""Getting a pilot's files in: formats, column mapping, time reading, line logs, loading whole
batches, feeds and manual sources, batch history."""
