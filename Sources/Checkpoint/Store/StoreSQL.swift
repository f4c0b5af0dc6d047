/// The statements the PostgreSQL store runs. Batches travel as arrays (`unnest`), so one
/// statement writes a whole chunk of rows.
enum StoreSQL {
    /// The stored block layout (migration 9) as `l` for a FROM list: one row, whose `columns` is
    /// NULL if the layout's row was deleted (rows are then written without a block, and still
    /// found). Joined rather than a scalar subquery in `block(of:)`'s arguments: PostgreSQL does not
    /// inline a function whose argument holds a subquery, and called once per row, the function
    /// made the checkpoint's upsert slower than before blocks (pg_stat_statements, 3-worker soak).
    static let layout = "(SELECT max(columns) AS columns FROM cell_block_layout) AS l"
    /// The block of the cell `cell` (an SQL expression of type int8), for `entity_states.cell_block`;
    /// the statement joins `layout`.
    static func block(of cell: String) -> String { "cell_block(\(cell), l.columns)" }

    /// The rows of `entity_states` (as `alias`) in the cells of the int8[] `cells`: found by their
    /// blocks through `entity_states_by_block`, then by cell. Rows without a block (written by
    /// hand, or by a build before migration 9) are found too.
    static func entities(_ alias: String, inCells cells: String) -> String {
        """
        (\(alias).cell_block = ANY (ARRAY(SELECT DISTINCT \(block(of: "c")) FROM unnest(\(cells)) AS c, \(layout)))
             OR \(alias).cell_block IS NULL)
          AND \(alias).cell_id = ANY (\(cells))
        """
    }

    /// Upsert with fencing: a row is overwritten only by a writer whose owner epoch is newer, or
    /// equal with a version that is not older. It returns the ids of the rows it did not write
    /// (none, commonly), and the store asks storage only about those. Before, a chunk that wrote
    /// fewer rows than it sent had every row's stored epoch read. At 600 handoffs a second most
    /// chunks skip a row (a handoff's target claimed the entity while the checkpoint was in
    /// flight): a 3-worker soak read 425 rows a checkpoint where ~40 were skipped, 5 % of
    /// PostgreSQL's time.
    static let upsertEntities = """
        WITH written AS (
        INSERT INTO entity_states AS s (entity_id, cell_id, cell_block, kind, stats, position, version, actions, owner_epoch, updated_at)
        SELECT t.id, t.cell, \(block(of: "t.cell")), t.kind, t.stats, t.position, t.version, t.actions, t.epoch, now()
        FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::jsonb[], $5::jsonb[], $6::int8[], $7::int8[], $8::int8[])
             AS t(id, cell, kind, stats, position, version, actions, epoch), \(layout)
        ON CONFLICT (entity_id) DO UPDATE SET
            cell_id = EXCLUDED.cell_id, cell_block = EXCLUDED.cell_block, kind = EXCLUDED.kind, stats = EXCLUDED.stats,
            position = EXCLUDED.position, version = EXCLUDED.version, actions = EXCLUDED.actions,
            owner_epoch = EXCLUDED.owner_epoch, updated_at = EXCLUDED.updated_at
        WHERE s.owner_epoch < EXCLUDED.owner_epoch
           OR (s.owner_epoch = EXCLUDED.owner_epoch AND s.version <= EXCLUDED.version)
        RETURNING s.entity_id
        )
        SELECT t.id FROM unnest($1::int8[]) AS t(id) WHERE t.id NOT IN (SELECT entity_id FROM written)
        """

    /// Which of these entities' stored rows name one of these cells (a release reads it in its
    /// transaction: see `CheckpointBatch.optionalEntities`).
    static let storedInCells = """
        SELECT entity_id FROM entity_states WHERE entity_id = ANY($1::int8[]) AND cell_id = ANY($2::int8[])
        """

    /// New queued events; not for a cell a newer owner has checkpointed. Idempotent on retry.
    /// Returns the events it left out because of that newer owner (fenced): they are not stored.
    static let insertEvents = """
        WITH t AS (
            SELECT * FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::text[]) AS t(cell, seq, type, payload)
        ), fenced AS (
            SELECT t.cell, t.seq FROM t
            WHERE EXISTS (SELECT 1 FROM cell_checkpoints c WHERE c.cell_id = t.cell AND c.owner_epoch > $5)
        ), inserted AS (
            INSERT INTO deferred_events (cell_id, sequence, event_type, payload)
            SELECT t.cell, t.seq, t.type, decode(t.payload, 'hex') FROM t
            WHERE (t.cell, t.seq) NOT IN (SELECT cell, seq FROM fenced)
            ON CONFLICT (cell_id, sequence) DO NOTHING
            RETURNING 1
        )
        SELECT cell, seq FROM fenced
        """

    static let upsertCells = """
        INSERT INTO cell_checkpoints AS c (cell_id, checkpointed_at, entity_count, properties, world_events, owner_epoch)
        SELECT t.cell, now(), t.count, t.props, t.events, t.epoch
        FROM unnest($1::int8[], $2::int4[], $3::jsonb[], $4::jsonb[], $5::int8[]) AS t(cell, count, props, events, epoch)
        ON CONFLICT (cell_id) DO UPDATE SET
            checkpointed_at = EXCLUDED.checkpointed_at, entity_count = EXCLUDED.entity_count,
            properties = EXCLUDED.properties, world_events = EXCLUDED.world_events, owner_epoch = EXCLUDED.owner_epoch
        WHERE c.owner_epoch <= EXCLUDED.owner_epoch
        RETURNING cell_id
        """

    /// Deletes replayed events, only where this writer still owns the cell.
    static let deleteReplayed = """
        DELETE FROM deferred_events d
        USING unnest($1::int8[], $2::int8[]) AS t(cell, seq), cell_checkpoints c
        WHERE d.cell_id = t.cell AND d.sequence = t.seq AND c.cell_id = t.cell AND c.owner_epoch <= $3
        """

    static let insertDeadLetter = """
        INSERT INTO dead_letters (kind, entity_id, cell_id, payload, sqlstate, error) VALUES ($1, $2, $3, $4::jsonb, $5, $6)
        """

    static let storedEpochs = "SELECT entity_id, owner_epoch FROM entity_states WHERE entity_id = ANY($1::int8[])"

    static let entitiesInCell = """
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch FROM entity_states s
        WHERE \(entities("s", inCells: "ARRAY[$1::int8]")) ORDER BY entity_id
        """
    static let cellRecord = "SELECT properties, world_events FROM cell_checkpoints WHERE cell_id = $1"
    static let eventsInCell = "SELECT sequence, payload FROM deferred_events WHERE cell_id = $1 ORDER BY sequence"
    static let entity = """
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch, cell_id FROM entity_states WHERE entity_id = $1
        """
    static let maxSequence = "SELECT coalesce(max(sequence), 0) FROM deferred_events"
}
