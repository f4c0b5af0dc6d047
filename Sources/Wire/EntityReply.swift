import WorldCore

extension WireFormat {
    /// The bytes of `encodeReply(requestID:sender:_:)` for an OK reply whose result is `entity`
    /// (the answer to a read), written by hand from the entity: no `EntityState` or `Reply`
    /// message is built and no generated encoder walks them. The same bytes: fields in number
    /// order, defaults left out, the stats in the dictionary's own order (as the generated
    /// encoder writes a map).
    public static func encodeEntityReply(requestID: UInt64, sender: String, _ entity: Entity) -> [UInt8] {
        var state: [UInt8] = []
        state.reserveCapacity(64 + entity.stats.count * 24)
        appendEntityState(entity, to: &state)
        let body = 1 + varintSize(UInt64(state.count)) + state.count  // Reply.entity and its length
        var frame = encodeHead(requestID: requestID, sender: sender, reserving: 1 + varintSize(UInt64(body)) + body)
        appendVarint(UInt64(20 << 3 | 2), to: &frame)  // Envelope.reply
        appendVarint(UInt64(body), to: &frame)
        frame.append(10 << 3 | 2)  // Reply.entity
        appendVarint(UInt64(state.count), to: &frame)
        frame.append(contentsOf: state)
        return frame
    }

    /// An `EntityState` made from `e` (`Cellcluster_V1_EntityState(e)`), as the generated encoder writes it.
    static func appendEntityState(_ e: Entity, to out: inout [UInt8]) {
        func varint(_ field: UInt8, _ value: UInt64) {
            guard value != 0 else { return }
            out.append(field << 3)
            appendVarint(value, to: &out)
        }
        func double(_ field: UInt8, _ value: Double) {
            guard value.bitPattern != 0 else { return }  // -0.0 is written, as the generated encoder does
            out.append(field << 3 | 1)
            appendFixed64(value.bitPattern, to: &out)
        }
        varint(1, e.id.raw)
        varint(2, UInt64(Cellcluster_V1_EntityKind(e.kind).rawValue))
        for (name, value) in e.stats {
            let key = name.utf8.count
            out.append(3 << 3 | 2)
            appendVarint(UInt64(1 + varintSize(UInt64(key)) + key + 9), to: &out)  // the entry: key and value, both always written
            out.append(1 << 3 | 2)
            appendVarint(UInt64(key), to: &out)
            out.append(contentsOf: name.utf8)
            out.append(2 << 3 | 1)
            appendFixed64(value.bitPattern, to: &out)
        }
        let p = e.position
        let coordinates = (p.x.bitPattern == 0 ? 0 : 9) + (p.y.bitPattern == 0 ? 0 : 9) + (p.z.bitPattern == 0 ? 0 : 9)
        out.append(4 << 3 | 2)  // set even when every coordinate is 0
        out.append(UInt8(coordinates))
        double(1, p.x)
        double(2, p.y)
        double(3, p.z)
        varint(5, e.version)
        varint(6, UInt64(bitPattern: e.cell.raw))
        varint(7, e.ownerEpoch)
        varint(8, e.actions)
    }

    static func appendFixed64(_ value: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}
