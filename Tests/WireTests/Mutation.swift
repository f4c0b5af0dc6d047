/// One random change to a frame, as the decoders' agreement tests make them: a byte replaced,
/// the tail cut, a byte inserted, or a byte's top bit (a varint's "more" bit) flipped.
enum Mutation {
    static func of(_ frame: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var mutated = frame
        switch random.next() % 4 {
        case 0: mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next())
        case 1: mutated.removeLast(Int(random.next() % UInt64(mutated.count)))
        case 2: mutated.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next() % UInt64(mutated.count + 1)))
        default: mutated[Int(random.next() % UInt64(mutated.count))] ^= 0x80
        }
        return mutated
    }

    /// Makes `perFrame` mutations of each of `frames` in turn, from `seed`, and hands `check`
    /// each one `decode` takes, with what it read; returns how many it took.
    static func taken<T>(of frames: [[UInt8]], seed: UInt64, perFrame: Int, by decode: ([UInt8]) -> T?,
                         _ check: (_ mutated: [UInt8], _ read: T) throws -> Void) rethrows -> Int {
        var random = SplitMix64(seed: seed)
        var taken = 0
        for frame in frames {
            for _ in 0..<perFrame {
                let mutated = of(frame, &random)
                guard let read = decode(mutated) else { continue }
                taken += 1
                try check(mutated, read)
            }
        }
        return taken
    }
}
