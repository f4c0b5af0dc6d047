extension Migration {
    /// Every migration, in order. The schema is described in README.md ("Schema").
    public static let all: [Migration] = [
        Migration(version: 1, name: "world state", sql: """
            -- The latest saved state of every entity. owner_epoch fences stale writers: a row is
            -- only overwritten by a writer whose epoch is not older (and, within one epoch, whose
            -- version is not older).
            CREATE TABLE entity_states (
                entity_id    bigint PRIMARY KEY,
                cell_id      bigint NOT NULL,
                kind         smallint NOT NULL,
                stats        jsonb NOT NULL DEFAULT '{}',
                position     jsonb NOT NULL,
                version      bigint NOT NULL,
                actions      bigint NOT NULL DEFAULT 0,
                owner_epoch  bigint NOT NULL,
                updated_at   timestamptz NOT NULL DEFAULT now()
            ) WITH (fillfactor = 80);  -- room on each page for HOT updates: checkpoints rewrite rows in place
            CREATE INDEX entity_states_by_cell ON entity_states (cell_id);

            -- A cell's own state, written when it changes, deactivates or replays its queue.
            CREATE TABLE cell_checkpoints (
                cell_id          bigint PRIMARY KEY,
                checkpointed_at  timestamptz NOT NULL DEFAULT now(),
                entity_count     integer NOT NULL,
                properties       jsonb NOT NULL DEFAULT '{}',
                world_events     jsonb NOT NULL DEFAULT '[]',
                owner_epoch      bigint NOT NULL
            );

            -- Events queued for inactive cells (payload: a serialized cellcluster.v1.Event).
            -- Deleted in the transaction that saves the result of their replay.
            CREATE TABLE deferred_events (
                cell_id      bigint NOT NULL,
                sequence     bigint NOT NULL,
                event_type   smallint NOT NULL,
                payload      bytea NOT NULL,
                enqueued_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (cell_id, sequence)
            );

            -- Rows PostgreSQL refused, with why; the rest of their batch was written.
            CREATE TABLE dead_letters (
                id          bigserial PRIMARY KEY,
                kind        text NOT NULL,
                entity_id   bigint,
                cell_id     bigint,
                payload     jsonb,
                sqlstate    text,
                error       text NOT NULL,
                failed_at   timestamptz NOT NULL DEFAULT now()
            );
            """),
        Migration(version: 2, name: "cluster ownership", sql: """
            CREATE TABLE cell_ownership (
                cell_id    bigint PRIMARY KEY,
                worker_id  text NOT NULL,
                epoch      bigint NOT NULL
            );
            CREATE INDEX cell_ownership_by_worker ON cell_ownership (worker_id);

            CREATE TABLE shard_maps (
                epoch       bigint PRIMARY KEY,
                map         bytea NOT NULL,
                created_at  timestamptz NOT NULL DEFAULT now()
            );
            """),
        Migration(version: 3, name: "leases", sql: """
            -- One row per live worker incarnation. A worker renews expires_at itself (the
            -- coordinator may be down); the coordinator deletes the row of a worker whose lease ran
            -- out before it gives that worker's cells to others, and a new grant deletes the old
            -- incarnation's row. Every write of a worker holds its row FOR KEY SHARE in the same
            -- transaction (renewals do not wait for it; deletes do), so a delete waits for writes in
            -- flight and every later write of that incarnation fails: the fence against zombies.
            CREATE SEQUENCE lease_generations;
            CREATE TABLE worker_leases (
                worker_id   text PRIMARY KEY,
                generation  bigint NOT NULL,
                endpoint    text NOT NULL,
                expires_at  timestamptz NOT NULL,
                granted_at  timestamptz NOT NULL DEFAULT now()
            );
            -- Raises SQLSTATE CC001 unless the worker still holds this lease; locks it till commit.
            CREATE FUNCTION cellcluster_hold_lease(w text, g bigint) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1 FROM worker_leases WHERE worker_id = w AND generation = g FOR KEY SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'worker % lost its lease (generation %): its cells belong to others now', w, g
                        USING ERRCODE = 'CC001';
                END IF;
            END $$;
            -- cell_ownership: which worker may load and serve a cell. The coordinator writes it for a
            -- new map and on failover; a worker giving a cell away writes it in the transaction
            -- that saves the cell's last state, and the receiver serves the cell only once it reads
            -- its own name here.
            """),
        Migration(version: 4, name: "handoff source lease", sql: """
            -- Raises SQLSTATE CC002 unless worker w still holds lease generation g; locks it till
            -- commit. A handoff's target calls it for the source before it claims the entity: an
            -- offer from a worker whose cells failed over (a paused or cut-off zombie, or one whose
            -- offer waited in a queue) is refused, because the new owner of the source's cells
            -- may hold the entity already. CC001 stays the caller's own lease.
            CREATE FUNCTION cellcluster_hold_source_lease(w text, g bigint) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1 FROM worker_leases WHERE worker_id = w AND generation = g FOR KEY SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'the handoff source % no longer holds lease generation %', w, g
                        USING ERRCODE = 'CC002';
                END IF;
            END $$;
            """),
        Migration(version: 5, name: "applied requests", sql: """
            -- The request id of every durable change (and spawn), stored in the transaction that
            -- stores the change. A worker that takes the entity or the cell over (after a crash or
            -- a handoff) reads these back with it and answers a retry with the stored reply
            -- instead of applying the change again. Workers delete rows older than
            -- events.request_retention_s.
            CREATE TABLE applied_requests (
                sender      bytea NOT NULL,
                request_id  bigint NOT NULL,
                entity_id   bigint,            -- the entity it changed; NULL for a change to a cell
                cell_id     bigint NOT NULL,   -- the cell it changed (for an entity: its cell then)
                reply       bytea NOT NULL,    -- the serialized cellcluster.v1.Reply that answered it
                applied_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (sender, request_id)
            );
            CREATE INDEX applied_requests_by_entity ON applied_requests (entity_id) WHERE entity_id IS NOT NULL;
            CREATE INDEX applied_requests_by_cell ON applied_requests (cell_id) WHERE entity_id IS NULL;
            CREATE INDEX applied_requests_by_age ON applied_requests (applied_at);
            """),
        Migration(version: 6, name: "coordinator leadership", sql: """
            -- One row: the coordinator that leads (the others stand by and take over once its
            -- lease has run out, by PostgreSQL's clock). Each takeover raises the generation.
            CREATE TABLE coordinator_leader (
                id          int PRIMARY KEY CHECK (id = 1),
                holder      text NOT NULL,
                generation  bigint NOT NULL,
                endpoint    text NOT NULL,
                expires_at  timestamptz NOT NULL
            );
            -- Raises SQLSTATE CC003 unless coordinator h still leads under generation g; holds the
            -- row till commit, so a takeover waits for the leader's transaction in flight and every
            -- later one of the deposed leader fails. Every map, grant and revocation calls it.
            CREATE FUNCTION cellcluster_hold_leadership(h text, g bigint) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1 FROM coordinator_leader WHERE id = 1 AND holder = h AND generation = g FOR SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'coordinator % no longer leads under generation %', h, g
                        USING ERRCODE = 'CC003';
                END IF;
            END $$;
            """),
        Migration(version: 7, name: "statistics autovacuum can afford", sql: """
            -- Autovacuum analyzes a table once changes reach a tenth of its rows. Checkpoints
            -- rewrite entity_states thousands of times a second and durable changes add rows to
            -- applied_requests as fast, so with autovacuum_naptime = 1s (scripts/pg) both were
            -- analyzed about every second, each time sampling 30,000 rows (300 x the default
            -- statistics target) and sorting every column's values, jsonb and bytea compared
            -- value by value: an eighth of PostgreSQL's CPU in a 5,000-player soak. Every query
            -- on them goes by a key or an index; a small sample (3,000 rows) estimates those,
            -- and columns no query filters on keep no statistics at all.
            ALTER TABLE entity_states
                ALTER COLUMN entity_id SET STATISTICS 10, ALTER COLUMN cell_id SET STATISTICS 10,
                ALTER COLUMN kind SET STATISTICS 10, ALTER COLUMN owner_epoch SET STATISTICS 10,
                ALTER COLUMN stats SET STATISTICS 0, ALTER COLUMN position SET STATISTICS 0,
                ALTER COLUMN version SET STATISTICS 0, ALTER COLUMN actions SET STATISTICS 0,
                ALTER COLUMN updated_at SET STATISTICS 0;
            ALTER TABLE applied_requests
                ALTER COLUMN sender SET STATISTICS 10, ALTER COLUMN request_id SET STATISTICS 10,
                ALTER COLUMN entity_id SET STATISTICS 10, ALTER COLUMN cell_id SET STATISTICS 10,
                ALTER COLUMN applied_at SET STATISTICS 10, ALTER COLUMN reply SET STATISTICS 0;
            """),
        Migration(version: 8, name: "request ids aged by block range", sql: """
            -- Every durable change inserts a row into applied_requests, and its btree on
            -- applied_at cost each insert an index entry and a WAL record, only so that the
            -- retention delete could find old rows. Rows arrive in time order and old ones are
            -- deleted in bulk, so a block-range summary finds them nearly as well and costs an
            -- insert nothing until its range is summarized (pgbench, 125-row inserts shaped like
            -- the workers', same run: 1.08-1.23 x the rows a second). autosummarize: ranges filled
            -- since the last vacuum are summarized soon, so the delete does not scan them.
            DROP INDEX applied_requests_by_age;
            CREATE INDEX applied_requests_by_age ON applied_requests USING brin (applied_at)
                WITH (pages_per_range = 32, autosummarize = on);
            """),
    ]
}
