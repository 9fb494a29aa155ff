import GRDB

/// The database schema: named, append-only migrations from the first version on.
enum Schema {
    /// `PRAGMA application_id` of every Telltale database ("TTLE"): how a file is known to be ours.
    static let applicationID: Int32 = 0x5454_4C45

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-flows") { db in
            try db.execute(sql: """
                CREATE TABLE executables (
                    id INTEGER PRIMARY KEY,
                    path TEXT NOT NULL,
                    sha256 TEXT NOT NULL DEFAULT '',
                    UNIQUE (path, sha256)
                );
                CREATE TABLE processes (
                    id INTEGER PRIMARY KEY,
                    pid INTEGER NOT NULL,
                    start_time INTEGER NOT NULL DEFAULT 0,
                    executable_id INTEGER REFERENCES executables(id),
                    cmdline TEXT,
                    comm TEXT,
                    uid INTEGER,
                    user TEXT,
                    ppid INTEGER,
                    parent_exe TEXT,
                    unit TEXT,
                    container TEXT,
                    role TEXT,
                    UNIQUE (pid, start_time, executable_id)
                );
                CREATE TABLE hostnames (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE
                );
                CREATE TABLE flows (
                    uid TEXT PRIMARY KEY,
                    start INTEGER NOT NULL,
                    "end" INTEGER NOT NULL,
                    proto TEXT NOT NULL,
                    ip_protocol INTEGER NOT NULL,
                    ip_version INTEGER NOT NULL,
                    local_addr TEXT NOT NULL,
                    local_port INTEGER NOT NULL,
                    remote_addr TEXT NOT NULL,
                    remote_port INTEGER NOT NULL,
                    direction TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    bytes_out INTEGER NOT NULL,
                    bytes_in INTEGER NOT NULL,
                    packets_out INTEGER NOT NULL,
                    packets_in INTEGER NOT NULL,
                    conn_state TEXT NOT NULL,
                    history TEXT NOT NULL,
                    community_id TEXT NOT NULL,
                    icmp_id INTEGER,
                    hostname_id INTEGER REFERENCES hostnames(id),
                    name_source TEXT,
                    process_id INTEGER REFERENCES processes(id),
                    unattributed_reason TEXT,
                    verdict TEXT NOT NULL,
                    rule TEXT,
                    open INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX flows_start ON flows(start);
                CREATE INDEX flows_end ON flows("end");
                CREATE INDEX flows_process ON flows(process_id);
                CREATE TABLE capture_stats (
                    id INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL,
                    interval INTEGER NOT NULL,
                    frames INTEGER NOT NULL,
                    ip_packets INTEGER NOT NULL,
                    ip_bytes INTEGER NOT NULL,
                    damaged INTEGER NOT NULL,
                    received INTEGER NOT NULL,
                    dropped INTEGER NOT NULL,
                    interface_dropped INTEGER NOT NULL,
                    queue_dropped INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX capture_stats_time ON capture_stats(time);
                """)
        }
        migrator.registerMigration("v2-sessions") { db in
            try db.execute(sql: """
                CREATE TABLE sessions (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,
                    command TEXT NOT NULL,
                    start INTEGER NOT NULL,
                    "end" INTEGER,
                    verdict TEXT,
                    report TEXT
                );
                CREATE TABLE daemon_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pid INTEGER NOT NULL,
                    started INTEGER NOT NULL,
                    heartbeat INTEGER NOT NULL,
                    interfaces TEXT NOT NULL,
                    frames INTEGER NOT NULL DEFAULT 0,
                    dropped INTEGER NOT NULL DEFAULT 0,
                    flows INTEGER NOT NULL DEFAULT 0,
                    store_state TEXT NOT NULL DEFAULT 'ok'
                );
                ALTER TABLE flows ADD COLUMN session_id INTEGER REFERENCES sessions(id);
                """)
        }
        migrator.registerMigration("v3-alerts") { db in
            try db.execute(sql: """
                CREATE TABLE alerts (
                    id INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL,
                    flow_uid TEXT,
                    pid INTEGER,
                    exe TEXT,
                    process TEXT,
                    role TEXT,
                    remote_addr TEXT NOT NULL,
                    remote_port INTEGER NOT NULL,
                    proto TEXT NOT NULL,
                    hostname TEXT,
                    rule TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    message TEXT NOT NULL,
                    tags TEXT NOT NULL DEFAULT '',
                    delivered TEXT NOT NULL DEFAULT ''
                );
                CREATE INDEX alerts_time ON alerts(time);
                CREATE INDEX alerts_flow ON alerts(flow_uid);
                """)
        }
        migrator.registerMigration("v4-kernel-events") { db in
            try db.execute(sql: """
                ALTER TABLE flows ADD COLUMN peer_process_id INTEGER REFERENCES processes(id);
                ALTER TABLE flows ADD COLUMN attribution_source TEXT;
                ALTER TABLE capture_stats ADD COLUMN event_dropped INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE daemon_state ADD COLUMN attribution TEXT NOT NULL DEFAULT '';
                ALTER TABLE daemon_state ADD COLUMN event_dropped INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v5-finished-order") { db in
            // `seq` numbers flows in the order they finished (were written ended), across every writer:
            // what `report --follow` and the exports resume from. Open flows have none yet. Flows that
            // ended before this migration are numbered in the order they were first written.
            try db.execute(sql: """
                ALTER TABLE flows ADD COLUMN seq INTEGER;
                UPDATE flows SET seq = rowid WHERE open = 0;
                CREATE UNIQUE INDEX flows_seq ON flows(seq);
                """)
        }
        migrator.registerMigration("v6-program-and-content") { db in
            // Program identity (what a person calls the program, and how it was read), where a role came
            // from, what content inspection could see of a flow, and what a content alert found.
            try db.execute(sql: """
                ALTER TABLE processes ADD COLUMN program TEXT;
                ALTER TABLE processes ADD COLUMN program_kind TEXT;
                ALTER TABLE processes ADD COLUMN role_source TEXT;
                ALTER TABLE flows ADD COLUMN content_visibility TEXT;
                ALTER TABLE flows ADD COLUMN prompt_matches INTEGER;
                ALTER TABLE alerts ADD COLUMN program TEXT;
                ALTER TABLE alerts ADD COLUMN name_source TEXT;
                ALTER TABLE alerts ADD COLUMN content TEXT;
                ALTER TABLE daemon_state ADD COLUMN content TEXT NOT NULL DEFAULT 'off';
                ALTER TABLE daemon_state ADD COLUMN content_dropped INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE canaries (
                    id INTEGER PRIMARY KEY,
                    token TEXT NOT NULL UNIQUE,
                    label TEXT,
                    created INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }
}
