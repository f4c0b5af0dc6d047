/// Plans the next shard map from the current one: takes dead and draining workers out, lets new
/// workers in, and moves the boundaries between neighbouring workers toward equal load. Pure: the
/// coordinator passes the loads in and stores what comes out.
///
/// Each worker owns one contiguous run of the Hilbert curve, in map order; a boundary ("cut")
/// is the index, among the world's cells in curve order, where the next worker's run starts.
/// Moves are bounded per round; a boundary whose direction reverses halves its step (as
/// BigWorld does), and nothing moves while the most loaded worker is within `threshold` of the
/// mean (hysteresis), so the map does not oscillate. A worker holding less than 80 % of an even
/// share of the cells (a joiner, a worker back after a failover) catches up: the boundaries that
/// give it cells move in larger steps, and without waiting for patience. At 64 cells every 3 s, a
/// restarted worker of two took 96 s to get its half of a 4,096-cell world back, and meanwhile
/// the other one carried nearly all of it. (A hot spot does not make a worker catch up: its run
/// holds its share of cells, and the moves shrink it.)
public struct Rebalancer: Sendable {
    public struct Settings: Sendable, Equatable {
        /// At most this many cells cross each boundary per round.
        public var maxCellsPerRound: Int
        /// Rebalance only while max worker load / mean exceeds this.
        public var threshold: Double
        /// Load every cell carries even when empty, so empty regions still spread out.
        public var baseCellLoad: Double
        /// ... and only while the busiest worker carries at least this much more than the mean
        /// (a few players are no reason to move cells).
        public var minimumExcess: Double
        /// ... and only after that held for this many rounds in a row.
        public var patience: Int
        /// A boundary that gives cells to a worker holding less than 80 % of an even share moves up to
        /// this many a round (at least `maxCellsPerRound`), from the first unbalanced round; a
        /// joiner's first slice may be as large. 0: no catching up.
        public var catchUpCellsPerRound: Int
        public init(maxCellsPerRound: Int = 64, threshold: Double = 1.2, baseCellLoad: Double = 0.01,
                    minimumExcess: Double = 50, patience: Int = 3, catchUpCellsPerRound: Int = 512) {
            self.maxCellsPerRound = maxCellsPerRound
            self.threshold = threshold
            self.baseCellLoad = baseCellLoad
            self.minimumExcess = minimumExcess
            self.patience = patience
            self.catchUpCellsPerRound = catchUpCellsPerRound
        }

        /// Cells a boundary may move in a round toward a worker that catches up.
        var catchUpBound: Int { max(maxCellsPerRound, catchUpCellsPerRound) }
    }

    public let settings: Settings
    /// Per boundary (keyed by the worker pair), the last direction and step size.
    var steps: [String: (direction: Int, step: Int)] = [:]
    /// Rounds in a row the load was out of balance.
    var unbalancedRounds = 0

    public init(settings: Settings) {
        self.settings = settings
    }

    /// What changed in a plan, for logs.
    public struct Plan: Sendable, Equatable {
        public let map: PartitionMap
        public let movedCells: Int
        public let imbalance: Double
    }

    /// The next map, or nil when nothing should change.
    /// - Parameters:
    ///   - live: workers that may own cells (holding leases and not draining).
    ///   - loads: reported load per cell (missing: 0).
    public mutating func plan(_ map: PartitionMap, live: [String], loads: [CellID: Double]) -> Plan? {
        let curve = map.curve
        let cells = curve.orderedCells()
        guard !cells.isEmpty, !live.isEmpty else { return nil }
        let weight = cells.map { settings.baseCellLoad + max(0, loads[$0] ?? 0) }
        var order = map.workers
        var cuts = Self.cuts(of: map, cells: cells, curve: curve)
        var moved = 0
        let liveSet = Set(live)

        // Leavers: their run goes to the neighbours, split at its load midpoint. Not bounded.
        var k = 0
        while k < order.count {
            guard !liveSet.contains(order[k]) else { k += 1; continue }
            let start = k == 0 ? 0 : cuts[k - 1]
            let end = k == order.count - 1 ? cells.count : cuts[k]
            moved += end - start
            if order.count == 1 {
                order = []
                cuts = []
                break
            }
            if k == 0 {
                cuts.remove(at: 0)
            } else if k == order.count - 1 {
                cuts.remove(at: k - 1)
            } else {
                let middle = Self.midpoint(weight, start, end)
                cuts.replaceSubrange((k - 1)...k, with: [middle])
            }
            order.remove(at: k)
        }
        if order.isEmpty {
            // Everyone left: the first live worker takes the world.
            order = [live[0]]
            cuts = []
            moved = cells.count
        }

        // Joiners: each takes a bounded slice from the end of the most loaded run that can spare one.
        for joiner in live where !order.contains(joiner) {
            let runLoads = Self.runLoads(weight, cuts)
            guard let hottest = runLoads.indices.filter({ Self.runLength($0, cuts, cells.count) >= 2 })
                .max(by: { runLoads[$0] < runLoads[$1] }) else { break }
            let start = hottest == 0 ? 0 : cuts[hottest - 1]
            let end = hottest == cuts.count ? cells.count : cuts[hottest]
            // The slice is what the joiner would carry, at most a catch-up step (a joiner is far out
            // of balance by definition: it carries nothing).
            let share = max(1, min(settings.catchUpBound, (end - start) / 2))
            cuts.insert(end - share, at: hottest)
            order.insert(joiner, at: hottest + 1)
            moved += share
        }

        let membershipChanged = moved > 0
        var idealCuts: [Int]?
        // Load: move boundaries toward the load quantiles.
        let runLoads = Self.runLoads(weight, cuts)
        let total = runLoads.reduce(0, +)
        let mean = total / Double(order.count)
        let imbalance = mean > 0 ? (runLoads.max() ?? 0) / mean : 1
        let unbalanced = order.count >= 2 && imbalance > settings.threshold
            && (runLoads.max() ?? 0) - mean >= settings.minimumExcess
        unbalancedRounds = unbalanced ? unbalancedRounds + 1 : 0
        // Runs holding less than 80 % of an even share of the cells: they catch up.
        let short = settings.catchUpCellsPerRound > 0
            ? Set(order.indices.filter { Self.runLength($0, cuts, cells.count) * 5 * order.count < cells.count * 4 }) : []
        let catchingUp = unbalanced && !short.isEmpty
        if moved == 0, unbalanced, unbalancedRounds >= settings.patience || catchingUp {
            unbalancedRounds = 0
            var prefix = [0.0]
            prefix.reserveCapacity(weight.count + 1)
            for w in weight { prefix.append(prefix.last! + w) }
            var ideals = cuts
            for i in cuts.indices {
                let goal = total * Double(i + 1) / Double(order.count)
                // The first boundary whose left side carries the goal's share.
                var low = 1, high = cells.count - 1
                while low < high {
                    let mid = (low + high) / 2
                    if prefix[mid] >= goal { high = mid } else { low = mid + 1 }
                }
                let ideal = low
                ideals[i] = ideal
                let direction = ideal > cuts[i] ? 1 : ideal < cuts[i] ? -1 : 0
                guard direction != 0 else { continue }
                let key = order[i] + "|" + order[i + 1]
                var step = steps[key]?.step ?? settings.maxCellsPerRound
                let turnedBack = steps[key].map { $0.direction != direction } ?? false
                if turnedBack { step = max(1, step / 2) }
                steps[key] = (direction, step)
                // Giving cells to a short run goes in larger steps, unless the boundary just turned back.
                let gainer = direction > 0 ? i : i + 1
                let bound = short.contains(gainer) && !turnedBack ? max(step, settings.catchUpBound) : step
                let lowest = i == 0 ? 1 : cuts[i - 1] + 1
                let highest = i == cuts.count - 1 ? cells.count - 1 : cuts[i + 1] - 1
                let target = min(highest, max(lowest, cuts[i] + direction * min(bound, abs(ideal - cuts[i]))))
                moved += abs(target - cuts[i])
                cuts[i] = target
            }
            idealCuts = ideals
        }
        guard moved > 0 else { return nil }
        if !membershipChanged, let idealCuts {
            // Moving must pay for itself: with coarse cells the quantiles cannot be hit exactly,
            // and chasing them cell by cell would never end. The map the steps lead to must cut
            // the imbalance by 5 % at least.
            let best = Self.runLoads(weight, idealCuts)
            let bestImbalance = (best.max() ?? 0) / max(mean, .leastNonzeroMagnitude)
            guard bestImbalance < imbalance * 0.95 else {
                steps = [:]
                return nil
            }
        }
        return Plan(map: Self.map(epoch: map.epoch + 1, curve: curve, cells: cells, order: order, cuts: cuts),
                    movedCells: moved, imbalance: imbalance)
    }

    /// Max run load / mean under `map`.
    public static func imbalance(_ map: PartitionMap, loads: [CellID: Double], baseCellLoad: Double = 0.01) -> Double {
        let cells = map.curve.orderedCells()
        let weight = cells.map { baseCellLoad + max(0, loads[$0] ?? 0) }
        let runs = runLoads(weight, cuts(of: map, cells: cells, curve: map.curve))
        let mean = runs.reduce(0, +) / Double(runs.count)
        return mean > 0 ? (runs.max() ?? 0) / mean : 1
    }

    // MARK: Cuts

    static func cuts(of map: PartitionMap, cells: [CellID], curve: HilbertCurve) -> [Int] {
        // Index of the first cell of each run after the first.
        var cuts: [Int] = []
        var current = map.owner(of: cells[0])
        for (index, cell) in cells.enumerated() {
            let owner = map.owner(of: cell)
            if owner != current {
                cuts.append(index)
                current = owner
            }
        }
        return cuts
    }

    static func runLength(_ run: Int, _ cuts: [Int], _ count: Int) -> Int {
        (run == cuts.count ? count : cuts[run]) - (run == 0 ? 0 : cuts[run - 1])
    }

    static func runLoads(_ weight: [Double], _ cuts: [Int]) -> [Double] {
        var loads: [Double] = []
        var start = 0
        for end in cuts + [weight.count] {
            loads.append(weight[start..<end].reduce(0, +))
            start = end
        }
        return loads
    }

    static func midpoint(_ weight: [Double], _ start: Int, _ end: Int) -> Int {
        let half = weight[start..<end].reduce(0, +) / 2
        var sum = 0.0
        for i in start..<end {
            sum += weight[i]
            if sum >= half { return min(i + 1, end) }
        }
        return (start + end) / 2
    }

    static func map(epoch: UInt64, curve: HilbertCurve, cells: [CellID], order: [String], cuts: [Int]) -> PartitionMap {
        var ranges: [PartitionMap.Range] = []
        var first: UInt64 = 0
        for (i, worker) in order.enumerated() {
            let last = i == order.count - 1 ? UInt64(curve.side * curve.side - 1) : curve.position(of: cells[cuts[i]]) - 1
            ranges.append(.init(first: first, last: last, worker: worker))
            first = last + 1
        }
        return PartitionMap(epoch: epoch, curve: curve, ranges: ranges)
    }
}
