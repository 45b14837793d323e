"""Articles into the collection: reading a corpus folder, other document formats, adding and
removing files, and articles linked in place."""
