import GRDB

/// Named, append-only migrations. Never edit a shipped migration: add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-core") { db in
            try db.execute(
                sql: """
                    CREATE TABLE specs (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        path TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        spec_version INTEGER NOT NULL,
                        title TEXT NOT NULL,
                        content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
                        git_blob TEXT NOT NULL CHECK (length(git_blob) = 40),
                        recorded_at TEXT NOT NULL,
                        UNIQUE (path, content_hash)
                    );
                    CREATE TABLE code_refs (
                        id INTEGER PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        repo_path TEXT NOT NULL,
                        is_repository INTEGER NOT NULL CHECK (is_repository IN (0, 1)),
                        commit_id TEXT,
                        branch TEXT,
                        dirty INTEGER NOT NULL CHECK (dirty IN (0, 1)),
                        remote_url TEXT,
                        diff TEXT,
                        diff_bytes INTEGER NOT NULL DEFAULT 0,
                        diff_truncated INTEGER NOT NULL DEFAULT 0 CHECK (diff_truncated IN (0, 1))
                    );
                    CREATE TABLE environments (
                        id INTEGER PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        json TEXT NOT NULL
                    );
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY,
                        spec_id INTEGER NOT NULL REFERENCES specs(id),
                        profile TEXT NOT NULL,
                        table_id TEXT,
                        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'crashed')),
                        started_at TEXT NOT NULL,
                        ended_at TEXT,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        command_line TEXT NOT NULL,
                        runner TEXT NOT NULL,
                        code_ref_id INTEGER REFERENCES code_refs(id),
                        environment_id INTEGER REFERENCES environments(id),
                        stage_count INTEGER NOT NULL,
                        error TEXT
                    );
                    CREATE INDEX runs_by_start ON runs (started_at);
                    CREATE TABLE stage_instances (
                        id INTEGER PRIMARY KEY,
                        fingerprint TEXT NOT NULL UNIQUE CHECK (length(fingerprint) = 64),
                        stage TEXT NOT NULL,
                        name TEXT NOT NULL,
                        description TEXT NOT NULL
                    );
                    CREATE TABLE run_stages (
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        instance_id INTEGER NOT NULL REFERENCES stage_instances(id),
                        name TEXT NOT NULL,
                        command TEXT NOT NULL,
                        PRIMARY KEY (run_id, instance_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE params (
                        instance_id INTEGER NOT NULL REFERENCES stage_instances(id),
                        name TEXT NOT NULL,
                        value TEXT NOT NULL,
                        PRIMARY KEY (instance_id, name)
                    ) WITHOUT ROWID;
                    CREATE TABLE attempts (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        instance_id INTEGER NOT NULL REFERENCES stage_instances(id),
                        number INTEGER NOT NULL CHECK (number >= 1),
                        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cached', 'interrupted', 'orphaned', 'skipped')),
                        runner TEXT NOT NULL,
                        host TEXT NOT NULL,
                        job_id TEXT,
                        directory TEXT,
                        exit_code INTEGER,
                        signal INTEGER,
                        started_at TEXT NOT NULL,
                        ended_at TEXT,
                        cached_from INTEGER REFERENCES attempts(id),
                        error_tail TEXT,
                        message TEXT,
                        UNIQUE (run_id, instance_id, number)
                    );
                    CREATE INDEX attempts_by_instance ON attempts (instance_id, status);
                    CREATE TABLE metrics (
                        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
                        name TEXT NOT NULL,
                        value REAL NOT NULL,
                        PRIMARY KEY (attempt_id, name)
                    ) WITHOUT ROWID;
                    CREATE TABLE series_names (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE
                    );
                    CREATE TABLE metric_series (
                        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
                        series_id INTEGER NOT NULL REFERENCES series_names(id),
                        step INTEGER NOT NULL,
                        value REAL NOT NULL,
                        PRIMARY KEY (attempt_id, series_id, step)
                    ) WITHOUT ROWID;
                    CREATE TABLE artifacts (
                        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
                        name TEXT NOT NULL,
                        path TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        size INTEGER NOT NULL CHECK (size >= 0),
                        PRIMARY KEY (attempt_id, name)
                    ) WITHOUT ROWID;
                    CREATE TABLE file_memo (
                        path TEXT PRIMARY KEY,
                        device INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL,
                        digest TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id TEXT,
                        kind TEXT NOT NULL,
                        subject TEXT,
                        payload TEXT NOT NULL,
                        at TEXT NOT NULL,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL UNIQUE
                    );
                    CREATE TRIGGER events_are_append_only_u BEFORE UPDATE ON events
                        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                    CREATE TRIGGER events_are_append_only_d BEFORE DELETE ON events
                        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                    """)
        }
        m.registerMigration("v2-query-indexes") { db in
            // Filtering runs by a param value and ordering by a metric ("lr = 1e-5, best acc").
            try db.execute(
                sql: """
                    CREATE INDEX params_by_value ON params (name, value);
                    CREATE INDEX metrics_by_name ON metrics (name, value);
                    CREATE INDEX run_stages_by_instance ON run_stages (instance_id);
                    CREATE INDEX attempts_by_run ON attempts (run_id);
                    """)
        }
        m.registerMigration("v3-evaluations") { db in
            // Scored predictions files and every example's score, so intervals and audits need no
            // predictions file later. attempt_id is NULL for files ingested outside a run.
            try db.execute(
                sql: """
                    CREATE TABLE evaluations (
                        id INTEGER PRIMARY KEY,
                        attempt_id INTEGER REFERENCES attempts(id),
                        task TEXT NOT NULL,
                        label TEXT,
                        predictions_path TEXT NOT NULL,
                        predictions_sha256 TEXT NOT NULL,
                        results_path TEXT,
                        recorded_scores TEXT,
                        agreement TEXT NOT NULL CHECK (agreement IN ('agree', 'disagree', 'unchecked')),
                        disagreements TEXT NOT NULL,
                        test_num INTEGER NOT NULL CHECK (test_num >= 0),
                        scores TEXT NOT NULL,
                        recorded_at TEXT NOT NULL
                    );
                    CREATE INDEX evaluations_by_attempt ON evaluations (attempt_id);
                    CREATE TABLE example_scores (
                        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
                        ordinal INTEGER NOT NULL,
                        syn_id TEXT NOT NULL,
                        metric TEXT,
                        value REAL,
                        fields TEXT NOT NULL,
                        PRIMARY KEY (evaluation_id, ordinal)
                    ) WITHOUT ROWID;
                    CREATE TRIGGER evaluations_are_append_only_u BEFORE UPDATE ON evaluations
                        BEGIN SELECT RAISE(ABORT, 'evaluations are append-only'); END;
                    CREATE TRIGGER evaluations_are_append_only_d BEFORE DELETE ON evaluations
                        BEGIN SELECT RAISE(ABORT, 'evaluations are append-only'); END;
                    CREATE TRIGGER example_scores_are_append_only_u BEFORE UPDATE ON example_scores
                        BEGIN SELECT RAISE(ABORT, 'example scores are append-only'); END;
                    CREATE TRIGGER example_scores_are_append_only_d BEFORE DELETE ON example_scores
                        BEGIN SELECT RAISE(ABORT, 'example scores are append-only'); END;
                    """)
        }
        m.registerMigration("v4-cluster-statuses") { db in
            // Slurm: attempts can be cancelled (scancel, a failed upstream job) or requeued (the
            // cluster ends an attempt and starts a new one); runs can be cancelled. SQLite cannot
            // widen a CHECK in place, so both tables are rebuilt with every row copied as it was
            // (foreign keys are checked after the migration, by the migrator).
            try db.execute(
                sql: """
                    CREATE TABLE runs_v4 (
                        id TEXT PRIMARY KEY,
                        spec_id INTEGER NOT NULL REFERENCES specs(id),
                        profile TEXT NOT NULL,
                        table_id TEXT,
                        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'crashed', 'cancelled')),
                        started_at TEXT NOT NULL,
                        ended_at TEXT,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        command_line TEXT NOT NULL,
                        runner TEXT NOT NULL,
                        code_ref_id INTEGER REFERENCES code_refs(id),
                        environment_id INTEGER REFERENCES environments(id),
                        stage_count INTEGER NOT NULL,
                        error TEXT
                    );
                    INSERT INTO runs_v4 SELECT * FROM runs;
                    DROP TABLE runs;
                    ALTER TABLE runs_v4 RENAME TO runs;
                    CREATE INDEX runs_by_start ON runs (started_at);
                    CREATE TABLE attempts_v4 (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        instance_id INTEGER NOT NULL REFERENCES stage_instances(id),
                        number INTEGER NOT NULL CHECK (number >= 1),
                        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cached', 'interrupted', 'orphaned',
                                                               'skipped', 'cancelled', 'requeued')),
                        runner TEXT NOT NULL,
                        host TEXT NOT NULL,
                        job_id TEXT,
                        directory TEXT,
                        exit_code INTEGER,
                        signal INTEGER,
                        started_at TEXT NOT NULL,
                        ended_at TEXT,
                        cached_from INTEGER REFERENCES attempts(id),
                        error_tail TEXT,
                        message TEXT,
                        UNIQUE (run_id, instance_id, number)
                    );
                    INSERT INTO attempts_v4 SELECT * FROM attempts;
                    DROP TABLE attempts;
                    ALTER TABLE attempts_v4 RENAME TO attempts;
                    CREATE INDEX attempts_by_instance ON attempts (instance_id, status);
                    CREATE INDEX attempts_by_run ON attempts (run_id);
                    """)
        }
        m.registerMigration("v5-imports") { db in
            // Runs imported from bundles (`workbench import`). Their events belong to another
            // store's hash chain, so they are kept beside this store's chain, each with its own
            // hashes (re-checked by audit), and one `imported` event in this chain records the
            // bundle's digests. Imported attempts get new ids here; the mapping is kept so the
            // bundle's recorded reports can still be rebuilt. Runs that came along only because
            // the imported run reused their attempts are "context" runs: partial, listed apart.
            try db.execute(
                sql: """
                    CREATE TABLE imports (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        bundle_sha256 TEXT NOT NULL CHECK (length(bundle_sha256) = 64),
                        manifest_sha256 TEXT NOT NULL UNIQUE CHECK (length(manifest_sha256) = 64),
                        source TEXT NOT NULL,
                        directory TEXT NOT NULL,
                        imported_at TEXT NOT NULL
                    );
                    CREATE INDEX imports_by_run ON imports (run_id);
                    CREATE TABLE imported_events (
                        import_id INTEGER NOT NULL REFERENCES imports(id),
                        original_id INTEGER NOT NULL,
                        run_id TEXT,
                        kind TEXT NOT NULL,
                        subject TEXT,
                        payload TEXT NOT NULL,
                        at TEXT NOT NULL,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        PRIMARY KEY (import_id, original_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE import_context_runs (
                        import_id INTEGER NOT NULL REFERENCES imports(id),
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        PRIMARY KEY (import_id, run_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE imported_attempts (
                        import_id INTEGER NOT NULL REFERENCES imports(id),
                        original_id INTEGER NOT NULL,
                        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
                        PRIMARY KEY (import_id, original_id)
                    ) WITHOUT ROWID;
                    CREATE TRIGGER imported_events_are_append_only_u BEFORE UPDATE ON imported_events
                        BEGIN SELECT RAISE(ABORT, 'imported events are append-only'); END;
                    CREATE TRIGGER imported_events_are_append_only_d BEFORE DELETE ON imported_events
                        BEGIN SELECT RAISE(ABORT, 'imported events are append-only'); END;
                    """)
        }
        return m
    }
}
