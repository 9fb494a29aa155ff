-- Telltale flows of a fleet in ClickHouse: one row per finished flow per machine.
-- Runs on ClickHouse 18.16 (Debian 12's clickhouse-server) and later.
CREATE DATABASE IF NOT EXISTS telltale;

-- ReplacingMergeTree on (host, uid): a batch inserted twice (a shipper that died between the
-- insert and saving its place) collapses to one row when parts merge; `FINAL` in a query, or
-- `OPTIMIZE TABLE telltale.flows FINAL`, collapses at once.
CREATE TABLE IF NOT EXISTS telltale.flows (
    host String,                      -- the machine that observed the flow (the shipper adds it)
    seq UInt64,                       -- the machine's finished order ("seq" of report --follow)
    uid String,
    start DateTime,
    end DateTime,
    duration Float64,
    proto String,
    ip_version UInt8,
    local_addr String,
    local_port UInt16,
    remote_addr String,
    remote_port UInt16,
    direction String,
    scope String,
    bytes_out UInt64,
    bytes_in UInt64,
    packets_out UInt64,
    packets_in UInt64,
    conn_state String,
    community_id String,
    hostname Nullable(String),
    name_source Nullable(String),
    pid Nullable(UInt32),
    exe Nullable(String),
    sha256 Nullable(String),
    cmdline Nullable(String),
    user Nullable(String),
    role Nullable(String),
    unit Nullable(String),
    container Nullable(String),
    peer_exe Nullable(String),
    peer_role Nullable(String),
    attribution_source Nullable(String),
    unattributed_reason Nullable(String),
    verdict String,
    rule Nullable(String)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (host, uid);
