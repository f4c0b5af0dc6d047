import SwiftProtobuf
import Wire
import WorldCore

/// libFuzzer target 1: any bytes as a frame off the wire. Decoding either fails with a `WireError`
/// (whose reply and text are built, as a worker builds them) or yields an envelope that encodes
/// and decodes to itself and maps to domain values without trapping.
public enum WireDecoderTarget {
    static let grid = try! Grid(width: 4096, height: 4096, cellSize: 64)

    static func canonical(_ envelope: Envelope) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? envelope.serializedBytes(options: options)) ?? []
    }

    public static func run(_ bytes: [UInt8]) {
        // The hand decoder of common frames takes a frame only when the generated decoder gives the same envelope.
        if let moves = WireFormat.decodeCommon(bytes) {
            let generated = try? Envelope(serializedBytes: bytes)
            precondition(generated.map(canonical) == canonical(moves), "the hand decoder of common frames disagrees with the generated decoder")
        }
        // So do the readers of a batch of moves and reads, of a move alone, and of a batch reply of plain answers:
        // whatever they take, the generated decoder reads as the same requests and answers.
        if let batch = WireFormat.decodeMoveBatch(bytes) {
            let generated = try? Envelope(serializedBytes: bytes)
            var expected = batch.header
            expected.batch = .with {
                $0.requests = batch.moves.map { var m = batch.envelope(of: $0); m.sender = ""; return m }
                $0.earlyReply = batch.earlyReply
            }
            let general = generated.map { envelope in
                var blanked = envelope
                blanked.batch.requests = envelope.batch.requests.map { var m = $0; m.sender = ""; return m }
                return blanked
            }
            precondition(general.map(canonical) == canonical(expected), "the reader of batches of moves disagrees with the generated decoder")
        }
        if let lone = WireFormat.decodeMove(bytes) {
            let generated = try? Envelope(serializedBytes: bytes)
            precondition(lone.moves.count == 1 && generated.map(canonical) == canonical(lone.envelope(of: lone.moves[0])),
                         "the reader of a move alone disagrees with the generated decoder")
            // A sender known from an earlier frame is shared only when the bytes are the same.
            for known in [lone.sender, lone.sender + "x", "client"] {
                let shared = WireFormat.decodeMove(bytes, knownSender: known)
                precondition(shared?.sender == lone.sender && shared?.sameMoves(as: lone) == true, "a known sender changed what a move alone reads")
            }
        }
        if let answers = WireFormat.decodeBatchAnswers(bytes) {
            let generated = try? Envelope(serializedBytes: bytes)
            let replies = generated?.batchReply.replies ?? []
            precondition(generated?.requestID == answers.requestID && replies.count == answers.answers.count
                && zip(replies, answers.answers).allSatisfy { inner, answer in
                    inner.requestID == answer.requestID && inner.reply.code == answer.code && ChangeAnswer(inner.reply) == answer.answer
                }, "the reader of batch replies disagrees with the generated decoder")
        }
        if let replies = WireFormat.decodeReplies(bytes) {
            let generated = try? Envelope(serializedBytes: bytes)
            let expected: [(UInt64, Cellcluster_V1_Reply)] = switch generated?.body {
            case .reply(let reply)?: [(generated!.requestID, reply)]
            case .batchReply(let batch)?:  // a placeholder (an answer that comes alone later) is left out
                batch.replies.filter { !$0.isPlaceholder }.map { ($0.requestID, $0.reply) }
            default: []
            }
            func alone(_ id: UInt64, _ reply: Cellcluster_V1_Reply) -> Envelope { .with { $0.requestID = id; $0.reply = reply } }
            precondition(replies.count == expected.count
                && zip(replies, expected).allSatisfy { canonical(alone($0.requestID, $0.reply)) == canonical(alone($1.0, $1.1)) },
                "the reader of replies disagrees with the generated decoder")
        }
        let envelope: Envelope
        do {
            envelope = try WireFormat.decode(bytes)
        } catch {
            let reply = Envelope.errorReply(for: error, sender: "fuzz")
            precondition(!WireFormat.encode(reply).isEmpty, "an error reply always encodes")
            _ = error.description
            return
        }
        let again: Envelope
        do {
            again = try WireFormat.decode(WireFormat.encode(envelope))
        } catch {
            preconditionFailure("a decoded envelope does not decode again after encoding: \(error)")
        }
        // Compared as deterministic bytes, not with ==: a NaN position is a valid double that
        // differs from itself (a fuzzed input found that), and maps have no order.
        precondition(canonical(again) == canonical(envelope), "encode(decode(x)) changed the envelope")
        switch envelope.body {
        case .spawnEntity(let spawn)?: _ = try? spawn.newEntity()
        case .handoffOffer(let offer)?:
            _ = try? offer.entity.entity()
            for event in offer.pendingEvents { _ = try? event.queuedEvent(cell: CellID(0)) }
        case .shardMap(let map)?: _ = try? map.partitionMap(grid: grid)
        case .statusReply(let status)?: _ = try? status.map.partitionMap(grid: grid)
        case .reply(let reply)?:
            if case .entity(let state)? = reply.result { _ = try? state.entity() }
        default: break
        }
    }
}
