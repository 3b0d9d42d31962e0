"""Product catalogs: per-category USearch shards, product metadata and a catalog manifest."""
