/// Every entity's last `depth` acknowledged moves (version, when, the worker that answered), for
/// the loss check: a lane's entities share one flat ring, `depth` slots each. An array per entity
/// cost each acknowledged move a cache miss on that array's header (its uniqueness check, 5 % of
/// the generator's time in a 5,000-player soak); here a move touches its slot and two small arrays.
///
/// A slot holds plain values only (the worker as a number): writing it is a store. With the
/// worker's name in the slot, each write first loaded the slot's old name to release it, a
/// cache miss the thread waited for (6.5 % of the generator's samples, 80 % of them on that load).
struct AckedMoves {
    struct Move: Equatable {
        var version: UInt64
        var at: Double
        var worker: String
    }

    private struct Slot {
        var version: UInt64
        var at: Double
        var worker: UInt16
    }

    /// Moves kept per entity: a power of two.
    let depth: Int
    private let mask: Int
    private var slots: [Slot]
    /// Per entity: where its oldest move is among its slots, and how many it has.
    private var starts: [Int32]
    private var counts: [Int32]
    /// The workers' names by number, in the order first seen: a handful (scaling adds some), so a
    /// scan finds one faster than hashing its name would.
    private var workers: [String] = []

    init(entities: Int, depth: Int = 64) {
        precondition(depth > 0 && depth <= 1 << 30 && depth & (depth - 1) == 0, "the depth is a power of two")
        self.depth = depth
        mask = depth - 1
        slots = Array(repeating: Slot(version: 0, at: 0, worker: 0), count: entities * depth)
        starts = Array(repeating: 0, count: entities)
        counts = Array(repeating: 0, count: entities)
    }

    func count(of entity: Int) -> Int { Int(counts[entity]) }

    /// Entity `entity`'s moves, oldest first.
    func moves(of entity: Int) -> [Move] {
        (0..<Int(counts[entity])).map { move(slots[slot(entity, $0)]) }
    }

    /// A newer move (a higher version than those kept); past `depth`, the oldest goes.
    mutating func append(_ move: Move, for entity: Int) {
        let worker = number(of: move.worker)
        if Int(counts[entity]) == depth {
            starts[entity] = Int32((Int(starts[entity]) + 1) & mask)
            counts[entity] -= 1
        }
        slots[slot(entity, Int(counts[entity]))] = Slot(version: move.version, at: move.at, worker: worker)
        counts[entity] += 1
    }

    /// Takes out entity `entity`'s moves at or above `version` (the newest: versions only grow)
    /// and returns them, oldest first.
    mutating func removeAtOrAbove(_ version: UInt64, for entity: Int) -> [Move] {
        var removed: [Move] = []
        while counts[entity] > 0, case let last = slots[slot(entity, Int(counts[entity]) - 1)], last.version >= version {
            removed.append(move(last))
            counts[entity] -= 1
        }
        return removed.reversed()
    }

    /// The slot of entity `entity`'s `k`th kept move.
    private func slot(_ entity: Int, _ k: Int) -> Int {
        entity * depth + ((Int(starts[entity]) + k) & mask)
    }

    private func move(_ slot: Slot) -> Move {
        Move(version: slot.version, at: slot.at, worker: workers[Int(slot.worker)])
    }

    private mutating func number(of worker: String) -> UInt16 {
        if let known = workers.firstIndex(of: worker) { return UInt16(known) }
        precondition(workers.count < Int(UInt16.max), "more than 65,535 worker names in one soak")
        workers.append(worker)
        return UInt16(workers.count - 1)
    }
}
