/// A set of small non-negative integers (entity indices in a lane) with O(1) insert, remove and
/// membership and no hashing: the members in an array, and each index's place in it. Iterating
/// goes over the members only, in no particular order.
struct DenseIndexSet: Sequence {
    private var members: [Int] = []
    /// Per index: its place in `members`, or -1.
    private var places: [Int32]

    /// For indices in 0..<capacity.
    init(capacity: Int) {
        places = Array(repeating: -1, count: capacity)
    }

    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    func contains(_ index: Int) -> Bool { places[index] >= 0 }

    mutating func insert(_ index: Int) {
        guard places[index] < 0 else { return }
        places[index] = Int32(members.count)
        members.append(index)
    }

    /// Takes `index` out: the last member moves into its place.
    mutating func remove(_ index: Int) {
        let place = Int(places[index])
        guard place >= 0 else { return }
        let last = members.removeLast()
        if last != index {
            members[place] = last
            places[last] = Int32(place)
        }
        places[index] = -1
    }

    func makeIterator() -> IndexingIterator<[Int]> { members.makeIterator() }
}
