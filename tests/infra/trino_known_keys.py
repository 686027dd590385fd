"""Property names Trino accepts, per configuration file, from the Trino documentation
(https://trino.io/docs/current/): "Deploying Trino" (config.properties, node.properties),
"Properties reference" (general, resource management, query management, spilling, exchange,
task, node scheduler, optimizer, web UI, HTTP server, internal communication), "Delta Lake
connector", "Metastores" (Thrift HMS), "S3 file system support", "File system cache",
"File-based access control", "Password file authentication", "File group provider",
"Resource groups", "Fault-tolerant execution".

Trino refuses to start on an unknown property, but only once it is deployed; this list
catches a typo in review. A property missing here that the docs name: add it, with the page.
"""

from __future__ import annotations

CONFIG = {
    # deployment
    "coordinator", "node-scheduler.include-coordinator", "discovery.uri", "catalog.management",
    "catalog.config-dir", "catalog.store", "catalog.prune.update-interval", "plugin.dir",
    # HTTP server, TLS, authentication
    "http-server.http.enabled", "http-server.http.port", "http-server.https.enabled", "http-server.https.port",
    "http-server.https.keystore.path", "http-server.https.keystore.key", "http-server.https.truststore.path",
    "http-server.https.truststore.key", "http-server.authentication.type",
    "http-server.authentication.allow-insecure-over-http", "http-server.process-forwarded",
    "http-server.log.enabled", "http-server.log.path", "http-server.log.max-history", "http-server.log.max-size",
    "http-server.max-request-header-size", "http-server.max-response-header-size",
    "http-server.authentication.password.user-mapping.pattern",
    "http-server.authentication.password.user-mapping.file",
    "internal-communication.shared-secret", "internal-communication.https.required",
    "internal-communication.https.keystore.path", "internal-communication.https.keystore.key",
    "web-ui.enabled", "web-ui.authentication.type", "web-ui.user", "web-ui.preview.enabled",
    "access-control.config-files", "password-authenticator.config-files", "group-provider.config-file",
    "event-listener.config-files", "exchange-manager.config-file",
    # memory and query management
    "query.max-memory", "query.max-memory-per-node", "query.max-total-memory", "memory.heap-headroom-per-node",
    "query.low-memory-killer.policy", "query.low-memory-killer.delay", "task.low-memory-killer.policy",
    "query.max-run-time", "query.max-execution-time", "query.max-planning-time", "query.max-cpu-time",
    "query.max-scan-physical-bytes", "query.max-stage-count", "query.max-length", "query.max-history",
    "query.min-expire-age", "query.client.timeout", "query.execution-policy", "query.max-hash-partition-count",
    "query.min-hash-partition-count", "query.determine-partition-count-for-write-enabled",
    "query.remote-task.max-error-duration", "query.info-url-template", "query.max-concurrent-queries",
    "query.max-queued-queries", "retry-policy", "query-retry-attempts", "task-retry-attempts-per-task",
    "retry-initial-delay", "retry-max-delay", "retry-delay-scale-factor",
    "fault-tolerant-execution-task-memory", "fault-tolerant-execution-target-task-input-size",
    "fault-tolerant-execution-max-task-split-count",
    # spilling
    "spill-enabled", "spiller-spill-path", "spiller-max-used-space-threshold", "spiller-threads",
    "max-spill-per-node", "query-max-spill-per-node", "spill-compression-codec", "spill-encryption-enabled",
    # exchange and tasks
    "exchange.client-threads", "exchange.concurrent-request-multiplier", "exchange.data-integrity-verification",
    "exchange.max-buffer-size", "exchange.max-response-size", "exchange.compression-codec",
    "sink.max-buffer-size", "sink.max-broadcast-buffer-size",
    "task.concurrency", "task.http-response-threads", "task.http-timeout-threads", "task.info-update-interval",
    "task.max-drivers-per-task", "task.max-partial-aggregation-memory", "task.max-worker-threads",
    "task.min-drivers", "task.min-drivers-per-task", "task.scale-writers.enabled", "task.min-writer-count",
    "task.max-writer-count", "task.interrupt-stuck-split-tasks-enabled",
    # node scheduler
    "node-scheduler.policy", "node-scheduler.min-candidates", "node-scheduler.max-splits-per-node",
    "node-scheduler.min-pending-splits-per-task", "node-scheduler.max-adjusted-pending-splits-per-task",
    "node-scheduler.max-unacknowledged-splits-per-task",
    # optimizer and joins
    "join-distribution-type", "join-max-broadcast-table-size", "optimizer.join-reordering-strategy",
    "optimizer.max-reordered-joins", "optimizer.optimize-hash-generation", "optimizer.push-aggregation-through-outer-join",
    "optimizer.push-table-write-through-union", "optimizer.dictionary-aggregation",
    "optimizer.optimize-metadata-queries", "optimizer.distinct-aggregations-strategy",
    "enable-dynamic-filtering", "redistribute-writes", "scale-writers", "writer-scaling-min-data-processed",
    # shutdown, JMX, protocol
    "shutdown.grace-period", "jmx.rmiregistry.port", "jmx.rmiserver.port", "protocol.v1.prepared-statement-compression.length-threshold",
    "sql.default-catalog", "sql.default-schema", "sql.path",
}

NODE = {"node.environment", "node.id", "node.data-dir", "node.internal-address", "node.location"}

DELTA_LAKE_CATALOG = {
    "connector.name",
    # metastore (Thrift HMS, Glue, file)
    "hive.metastore", "hive.metastore.uri", "hive.metastore.username", "hive.metastore.authentication.type",
    "hive.metastore.thrift.client.connect-timeout", "hive.metastore.thrift.client.read-timeout",
    "hive.metastore.thrift.impersonation.enabled", "hive.metastore.thrift.delete-files-on-drop",
    "hive.metastore.thrift.catalog-name", "hive.metastore.thrift.batch-fetch.enabled",
    "hive.metastore-cache-ttl", "hive.metastore-refresh-interval", "hive.metastore-cache-maximum-size",
    "hive.metastore-timeout", "hive.metastore.catalog.dir", "hive.metastore.glue.region",
    "hive.metastore.glue.default-warehouse-dir", "hive.config.resources",
    # file systems
    "fs.native-s3.enabled", "fs.hadoop.enabled", "fs.native-azure.enabled", "fs.native-gcs.enabled",
    "fs.cache.enabled", "fs.cache.directories", "fs.cache.max-sizes", "fs.cache.max-disk-usage-percentages",
    "fs.cache.ttl", "fs.cache.preferred-hosts-count", "fs.cache.page-size",
    "s3.endpoint", "s3.region", "s3.path-style-access", "s3.aws-access-key", "s3.aws-secret-key", "s3.iam-role",
    "s3.role-session-name", "s3.external-id", "s3.sts.endpoint", "s3.sts.region", "s3.sse.type",
    "s3.sse.kms-key-id", "s3.sse.customer-key", "s3.canned-acl", "s3.storage-class", "s3.streaming.part-size",
    "s3.max-connections", "s3.connection-ttl", "s3.connection-max-idle-time", "s3.connection-acquisition-timeout",
    "s3.socket-connect-timeout", "s3.socket-read-timeout", "s3.socket-timeout", "s3.tcp-keep-alive",
    "s3.http-proxy", "s3.http-proxy.secure", "s3.retry-mode", "s3.max-error-retries",
    "s3.use-web-identity-token-credentials-provider", "s3.exclusive-create", "s3.requester-pays",
    "s3.cross-region-access", "s3.signer-type",
    # Delta Lake
    "delta.metadata.cache-ttl", "delta.metadata.cache-max-retained-size", "delta.metadata.live-files.cache-size",
    "delta.metadata.live-files.cache-ttl", "delta.compression-codec", "delta.max-partitions-per-writer",
    "delta.hide-non-delta-lake-tables", "delta.enable-non-concurrent-writes",
    "delta.default-checkpoint-writing-interval", "delta.vacuum.min-retention", "delta.delete-schema-locations-fallback",
    "delta.parquet.time-zone", "delta.target-max-file-size", "delta.idle-writer-min-file-size",
    "delta.unique-table-location", "delta.register-table-procedure.enabled", "delta.security",
    "delta.extended-statistics.enabled", "delta.extended-statistics.collect-on-write",
    "delta.per-transaction-metastore-cache-maximum-size", "delta.metastore.store-table-metadata",
    "delta.metastore.store-table-metadata-threads", "delta.projection-pushdown-enabled",
    "delta.query-partition-filter-required", "delta.table-statistics-enabled", "delta.checkpoint-filtering.enabled",
    "delta.dynamic-filtering.wait-timeout", "delta.domain-compaction-threshold", "delta.max-split-size",
    "delta.max-initial-split-size", "delta.max-initial-splits", "delta.max-outstanding-splits",
    "delta.max-splits-per-second", "delta.minimum-assigned-split-weight", "delta.checkpoint-row-statistics-writing.enabled",
    "delta.deletion-vectors-enabled", "delta.allow-manual-partitions", "delta.writer-task-count",
    "delta.parquet.writer.block-size", "delta.parquet.writer.page-size",
    "parquet.use-column-index", "parquet.use-bloom-filter", "parquet.max-read-block-size",
    "parquet.max-read-block-row-count", "parquet.small-file-threshold", "parquet.ignore-statistics",
    "parquet.writer.block-size", "parquet.writer.page-size", "parquet.writer.page-value-count",
    # catalog-level file access control (delta.security=FILE)
    "security.config-file", "security.refresh-period",
}

ACCESS_CONTROL = {"access-control.name", "security.config-file", "security.refresh-period",
                  "security.json-pointer", "opa.policy.uri", "opa.policy.row-filters-uri",
                  "opa.policy.column-masking-uri", "opa.log-requests", "opa.log-responses"}

PASSWORD_AUTHENTICATOR = {"password-authenticator.name", "file.password-file", "file.refresh-period",
                          "file.auth-token-cache.max-size", "ldap.url", "ldap.user-bind-pattern",
                          "ldap.user-base-dn", "ldap.group-auth-pattern", "ldap.bind-dn", "ldap.bind-password",
                          "ldap.allow-insecure", "ldap.ssl.truststore.path", "ldap.cache-ttl"}

GROUP_PROVIDER = {"group-provider.name", "file.group-file", "file.refresh-period"}

RESOURCE_GROUPS = {"resource-groups.configuration-manager", "resource-groups.config-file",
                   "resource-groups.config-db-url", "resource-groups.max-refresh-interval"}

EXCHANGE_MANAGER = {"exchange-manager.name", "exchange.base-directories", "exchange.encryption-enabled",
                    "exchange.sink-buffer-pool-min-size", "exchange.sink-buffers-per-partition",
                    "exchange.sink-max-file-size", "exchange.source-concurrent-readers",
                    "exchange.max-output-partition-count", "exchange.file-listing-parallelism",
                    "exchange.s3.region", "exchange.s3.endpoint", "exchange.s3.aws-access-key",
                    "exchange.s3.aws-secret-key", "exchange.s3.path-style-access", "exchange.s3.upload.part-size"}

EVENT_LISTENER = {"event-listener.name", "http-event-listener.connect-ingest-uri",
                  "http-event-listener.log-created", "http-event-listener.log-completed",
                  "http-event-listener.log-split", "http-event-listener.connect-http-headers"}

# log.properties: keys are logger names, values levels
LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"}

BY_FILE = {
    "config.properties": CONFIG,
    "node.properties": NODE,
    "access-control.properties": ACCESS_CONTROL,
    "password-authenticator.properties": PASSWORD_AUTHENTICATOR,
    "group-provider.properties": GROUP_PROVIDER,
    "resource-groups.properties": RESOURCE_GROUPS,
    "exchange-manager.properties": EXCHANGE_MANAGER,
    "event-listener.properties": EVENT_LISTENER,
}
CATALOG_BY_CONNECTOR = {"delta_lake": DELTA_LAKE_CATALOG}

BOOLEAN = {"coordinator", "node-scheduler.include-coordinator", "http-server.http.enabled",
           "http-server.https.enabled", "http-server.process-forwarded", "web-ui.enabled",
           "http-server.authentication.allow-insecure-over-http", "internal-communication.https.required",
           "fs.native-s3.enabled", "fs.hadoop.enabled", "s3.path-style-access",
           "delta.enable-non-concurrent-writes", "delta.register-table-procedure.enabled",
           "delta.hide-non-delta-lake-tables", "delta.unique-table-location", "spill-enabled"}
DATA_SIZE = {"query.max-memory", "query.max-memory-per-node", "query.max-total-memory",
             "memory.heap-headroom-per-node", "max-spill-per-node", "query-max-spill-per-node",
             "s3.streaming.part-size", "delta.target-max-file-size"}
