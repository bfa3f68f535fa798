"""Where human-readable reports (Evidently drift HTML) are stored: a local directory or
s3://bucket/prefix, through the same `lib.storage.Store` as the lake. Bound next to the lake
(`<lake>/_reports`) by resources/environment.py; the Parquet IO manager never writes there."""

import dagster as dg

from nba_platform.lib.storage import Store


class ReportStore(dg.ConfigurableResource):
    root: str
    endpoint_url: str | None = None
    region: str | None = None

    def _store(self) -> Store:
        return Store(self.root, self.endpoint_url, self.region)

    def uri(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel.lstrip('/')}"

    def write_text(self, rel: str, text: str) -> str:
        """Write (atomically, replacing any previous version) and return the report's URI."""
        self._store().write_bytes(rel, text.encode("utf-8"))
        return self.uri(rel)

    def read_text(self, rel: str) -> str:
        return self._store().read_bytes(rel).decode("utf-8")

    def exists(self, rel: str) -> bool:
        return self._store().exists(rel)

    def metadata_value(self, rel: str) -> dg.MetadataValue:
        """A link the UI can show: a path for a local report, the s3:// URI otherwise."""
        uri = self.uri(rel)
        return dg.MetadataValue.url(uri) if uri.startswith("s3://") else dg.MetadataValue.path(uri)
