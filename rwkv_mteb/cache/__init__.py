"""The on-disk vector cache: its row format, the store, the folder as a whole (listing, removal, size limit) and a
sweep's in-memory memo."""
