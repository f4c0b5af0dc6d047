/// Every entity's last `depth` acknowledged moves (version, when, the worker that answered), for
/// the loss check: a lane's entities share one flat ring, `depth` slots each. An array per entity
/// cost each acknowledged move a cache miss on that array's header (its uniqueness check, 5 % of
/// the generator's time in a 5,000-player soak); here a move touches its slot and two small arrays.
struct AckedMoves {
    struct Move: Equatable {
        var version: UInt64
        var at: Double
        var worker: String
    }

    let depth: Int
    private var slots: [Move]
    /// Per entity: where its oldest move is among its slots, and how many it has.
    private var starts: [Int32]
    private var counts: [Int32]

    init(entities: Int, depth: Int = 64) {
        precondition(depth > 0 && depth <= Int(Int32.max))
        self.depth = depth
        slots = Array(repeating: Move(version: 0, at: 0, worker: ""), count: entities * depth)
        starts = Array(repeating: 0, count: entities)
        counts = Array(repeating: 0, count: entities)
    }

    func count(of entity: Int) -> Int { Int(counts[entity]) }

    /// Entity `entity`'s moves, oldest first.
    func moves(of entity: Int) -> [Move] {
        (0..<Int(counts[entity])).map { slots[slot(entity, $0)] }
    }

    /// A newer move (a higher version than those kept); past `depth`, the oldest goes.
    mutating func append(_ move: Move, for entity: Int) {
        if Int(counts[entity]) == depth {
            starts[entity] = Int32((Int(starts[entity]) + 1) % depth)
            counts[entity] -= 1
        }
        slots[slot(entity, Int(counts[entity]))] = move
        counts[entity] += 1
    }

    /// Takes out entity `entity`'s moves at or above `version` (the newest: versions only grow)
    /// and returns them, oldest first.
    mutating func removeAtOrAbove(_ version: UInt64, for entity: Int) -> [Move] {
        var removed: [Move] = []
        while counts[entity] > 0, case let last = slots[slot(entity, Int(counts[entity]) - 1)], last.version >= version {
            removed.append(last)
            counts[entity] -= 1
        }
        return removed.reversed()
    }

    /// The slot of entity `entity`'s `k`th kept move.
    private func slot(_ entity: Int, _ k: Int) -> Int {
        entity * depth + (Int(starts[entity]) + k) % depth
    }
}
