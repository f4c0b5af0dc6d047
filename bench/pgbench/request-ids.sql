-- pgbench script (BENCHMARKS.md, session 38): 125 durable request ids in one statement shaped like a worker's
-- (PostgresWorldStore.insertRequests), each checked against its entity's row; run against a database
-- migrated by 'cellcluster db migrate' whose entity_states holds ids 1...11000 (see BENCHMARKS.md).
-- The ON CONFLICT variant: sed 's/^;$/ON CONFLICT (sender, request_id) DO NOTHING;/' on this file.
\set base random(1, 1000000000000)
INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
SELECT r.sender, r.request_id, CASE WHEN r.has_entity THEN r.entity_id END, r.cell_id, r.reply
FROM (SELECT '\x736f616b2d6c616e652d30'::bytea AS sender, :base::int8 * 1000 + g AS request_id, true AS has_entity, ((g * 7919 + :base::int8) % 11000) + 1 AS entity_id, g AS cell_id, 1::int2 AS kind, (40 + g % 10)::int8 AS a, (g % 5)::int8 AS b, '\x0a0c08011001180220032804300512140a0208011002180320042805300638074008480a'::bytea AS reply FROM generate_series(1,125) g) r
WHERE CASE r.kind
    WHEN 1 THEN EXISTS (SELECT 1 FROM entity_states s WHERE s.entity_id = r.entity_id AND s.version >= r.a AND s.owner_epoch >= r.b)
    ELSE true END
;
