/// The shipped cluster.yml, embedded so that `cellcluster` runs with no file at all. A test keeps
/// it identical to the repository's cluster.yml and to `ClusterSettings()`'s defaults.
public enum DefaultConfig {
    public static let yaml = #"""
# CellCluster configuration. Every key is optional: a missing key takes the value shown here.
# Command-line `--set key.path=value` overrides this file; PGHOST, PGPORT, PGUSER and PGDATABASE
# override the postgres section.

world:
  width: 4096            # world units along x; positions run from 0 up to (not including) this
  height: 4096           # world units along y
  cell_size: 64          # side of a square cell: 4096 / 64 = 64 x 64 cells

coordinator:
  endpoint: tcp://127.0.0.1:7400   # the coordinator binds here; workers and clients connect
  feed: ""                         # PUB socket for new shard maps; empty: the endpoint's host, a free port
  standby: tcp://127.0.0.1:7401    # a second coordinator that takes over when the leader dies; "" for none
  lease_ms: 1500                   # the leader's lease in PostgreSQL; a standby takes over once it runs out
  advertise: ""                    # what workers and clients reach it at (tcp://host[:port]); "": the bound address.
                                   # Required when endpoint is a wildcard; coordinator --advertise overrides it

workers:
  count: 2               # worker processes started by `scripts/cluster up`
  bind: tcp://127.0.0.1:0          # port 0: each worker gets a free port and reports it
  advertise: ""                    # what peers and clients connect to (tcp://host[:port]); "": the bound address.
                                   # Required when bind is a wildcard (tcp://*:0); worker --advertise overrides it

postgres:
  # The password never sits here: use PGPASSWORD or ~/.pgpass.
  host: 127.0.0.1
  port: 5432
  user: cellcluster
  database: cellcluster
  connect_timeout_seconds: 5
  sslmode: prefer        # libpq's sslmode: disable | allow | prefer | require | verify-ca | verify-full

checkpoint:
  mode: write_behind     # write_behind | write_through (one UPDATE per change: the baseline)
  interval_ms: 1000      # each worker writes its dirty state this often
  batch_size: 100        # rows per write batch
  early_flush_batches: 10          # checkpoint at once when 10 x batch_size changes wait
  max_rows: 2000         # entity rows per checkpoint at most (fewer while PostgreSQL is slow: each aims at a quarter
                         # of interval_ms); a larger backlog goes out in several, oldest first, each once its oldest change waited interval_ms
  slice_rows: 500        # a checkpoint commits every 500 entity rows; durable commits waiting go in between (0: one transaction)
  max_unsaved_changes: 1000000     # while PostgreSQL is down; past it writes get STORAGE_UNAVAILABLE
  retry_initial_ms: 100            # backoff after a failed checkpoint, doubling up to
  retry_max_ms: 10000
  shutdown_deadline_ms: 30000      # the final checkpoint on SIGTERM may take this long
  durable_window_ms: 20            # durable commits start at most this often; changes within it share one
  durable_group: 8                 # ... unless this many durable changes wait: then at once (0: the window always holds)
  # max_loss_window_ms: 2000       # unset: twice interval_ms. Past this age of its oldest unsaved change a worker refuses changes (OVERLOADED) until it catches up; 0: no bound

cache:
  policies: [lru, ttl, size]       # any of lru, ttl, size; a cell goes when any says so
  max_active_cells: 1024           # lru: cells in memory per worker
  ttl_seconds: 300                 # ttl: idle time before a cell is evicted
  max_entities: 1000000            # size: entities in memory per worker
  active_radius: 2                 # cells within 2 (Chebyshev) of a player are active
  hysteresis_ms: 2000              # a cell stays active this long after every player left its radius
  presence_timeout_ms: 60000       # a player silent this long stops keeping cells active

events:
  queue_limit: 10000     # events queued per inactive cell; past it the sender gets QUEUE_FULL
  request_retention_s: 60          # request ids of durable changes are kept this long: a retry after a crash is answered, not applied again
  durability:            # checkpointed (acknowledged from memory) | durable (after commit)
    entity_move: checkpointed
    entity_action: checkpointed
    cell_state_change: checkpointed
    world_event: checkpointed

leases:
  heartbeat_ms: 250      # how often a worker renews its lease (in PostgreSQL) and reports to the coordinator
  lease_ms: 1500         # a worker that cannot renew stops serving before this runs out; then its cells fail over

rebalance:
  interval_ms: 1000      # the coordinator considers moving cells this often, once earlier moves finished
  max_cells_per_round: 64          # cells crossing each boundary between two workers per round
  catch_up_cells_per_round: 512    # ... to a worker holding less than 80 % of an even share of the cells (a joiner, a worker
                                   # back after a failover), without waiting three rounds; 0: no catching up
  threshold: 1.2         # move for load only while the busiest worker carries > 1.2 x the mean

limits:                  # a request over one is refused with INVALID_ARGUMENT naming the key
  max_frame_bytes: 1048576         # larger ZeroMQ messages are dropped before they are buffered
  max_stats_per_entity: 256
  max_key_bytes: 256               # stat names, cell-state keys, action and world-event names
  max_value_bytes: 4096            # one cell-state value
  max_event_payload_bytes: 65536   # one world event's payload
  max_cell_state_keys: 1024
  max_batch_requests: 4096         # requests in one Batch frame (each answered on its own, in one BatchReply)

security:
  keys: ""               # folder of CURVE key files (cellcluster keys generate); "" or none: no CURVE, anyone who
                         # connects is served. CELLCLUSTER_KEYS overrides it. scripts/cluster up, when it is "",
                         # makes a key set in <run folder>/keys and uses it

metrics:
  listen: 127.0.0.1:0    # every process serves /metrics (Prometheus), /healthz and /readyz over HTTP here;
                         # port 0: a free port, named in its ready line and <run folder>/<name>.metrics; none: off
  summary_interval_s: 10 # each process logs one info line with its figures this often; 0: never

"""#
}
