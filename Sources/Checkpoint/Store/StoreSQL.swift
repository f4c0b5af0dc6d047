/// The statements the PostgreSQL store runs. Batches travel as arrays (`unnest`), so one
/// statement writes a whole chunk of rows.
enum StoreSQL {
    /// Upsert with fencing: a row is overwritten only by a writer whose owner epoch is newer, or
    /// equal with a version that is not older. It returns the ids of the rows it did not write
    /// (none, commonly), and the store asks storage only about those. Before, a chunk that wrote
    /// fewer rows than it sent had every row's stored epoch read. At 600 handoffs a second most
    /// chunks skip a row (a handoff's target claimed the entity while the checkpoint was in
    /// flight): a 3-worker soak read 425 rows a checkpoint where ~40 were skipped, 5 % of
    /// PostgreSQL's time.
    static let upsertEntities = """
        WITH written AS (
        INSERT INTO entity_states AS s (entity_id, cell_id, kind, stats, position, version, actions, owner_epoch, updated_at)
        SELECT t.id, t.cell, t.kind, t.stats, t.position, t.version, t.actions, t.epoch, now()
        FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::jsonb[], $5::jsonb[], $6::int8[], $7::int8[], $8::int8[])
             AS t(id, cell, kind, stats, position, version, actions, epoch)
        ON CONFLICT (entity_id) DO UPDATE SET
            cell_id = EXCLUDED.cell_id, kind = EXCLUDED.kind, stats = EXCLUDED.stats, position = EXCLUDED.position,
            version = EXCLUDED.version, actions = EXCLUDED.actions, owner_epoch = EXCLUDED.owner_epoch,
            updated_at = EXCLUDED.updated_at
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
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch FROM entity_states WHERE cell_id = $1 ORDER BY entity_id
        """
    static let cellRecord = "SELECT properties, world_events FROM cell_checkpoints WHERE cell_id = $1"
    static let eventsInCell = "SELECT sequence, payload FROM deferred_events WHERE cell_id = $1 ORDER BY sequence"
    static let entity = """
        SELECT entity_id, kind, stats, position, version, actions, owner_epoch, cell_id FROM entity_states WHERE entity_id = $1
        """
    static let maxSequence = "SELECT coalesce(max(sequence), 0) FROM deferred_events"
}
