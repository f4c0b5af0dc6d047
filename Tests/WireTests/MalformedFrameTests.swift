import Testing
@testable import Wire

@Suite struct MalformedFrameTests {
    static let valid: [UInt8] = {
        var envelope = Envelope()
        envelope.requestID = 99
        envelope.sender = "client:test"
        envelope.moveEntity = .with { $0.entityID = 5; $0.to = .with { $0.x = 1; $0.y = 2 } }
        return WireFormat.encode(envelope)
    }()

    @Test func everyTruncationIsATypedError() {
        for length in 1..<Self.valid.count {
            let prefix = Array(Self.valid.prefix(length))
            #expect(throws: WireError.self, "prefix of \(length) bytes") { try WireFormat.decode(prefix) }
        }
    }

    @Test func truncationInsideTheBodyIsReportedAsTruncated() throws {
        let error = try #require(throws: WireError.self) { try WireFormat.decode(Array(Self.valid.dropLast(3))) }
        #expect(error.code == .truncated)
        #expect(error.description.contains("ends in the middle"))
    }

    @Test func emptyAndGarbageFramesAreNamed() throws {
        let empty = try #require(throws: WireError.self) { try WireFormat.decode([]) }
        #expect(empty.code == .badSize)
        let garbage = try #require(throws: WireError.self) { try WireFormat.decode([0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(garbage.code == .malformed || garbage.code == .truncated)
        let text = try #require(throws: WireError.self) { try WireFormat.decode(Array("GET / HTTP/1.1\r\n".utf8)) }
        #expect([.malformed, .truncated, .unsupportedVersion, .missingBody].contains(text.code))
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SplitMix64(seed: 2026)
        var rejected = 0
        for _ in 0..<5000 {
            let count = Int(generator.next() % 64) + 1
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            do { _ = try WireFormat.decode(bytes) } catch { rejected += 1 }
        }
        #expect(rejected > 4900)  // random bytes are almost never a valid version-1 envelope with a body
    }

    @Test func anotherProtocolVersionIsRefusedByName() throws {
        var envelope = Envelope()
        envelope.protocolVersion = 2
        envelope.getEntity = .with { $0.entityID = 1 }
        let frame = try envelope.serializedBytes() as [UInt8]
        let error = try #require(throws: WireError.self) { try WireFormat.decode(frame) }
        #expect(error.code == .unsupportedVersion)
        #expect(error.replyCode == .unsupportedVersion)
        #expect(error.message.contains("version 2"))
    }

    @Test func anEnvelopeWithoutAMessageIsRefused() throws {
        var envelope = Envelope()
        envelope.requestID = 4
        let error = try #require(throws: WireError.self) { try WireFormat.decode(WireFormat.encode(envelope)) }
        #expect(error.code == .missingBody)
    }

    @Test func theErrorReplyNamesTheProblem() throws {
        let error = WireError(.truncated, "frame of 3 bytes ends in the middle of a field")
        let reply = Envelope.errorReply(for: error, sender: "worker:w1", mapEpoch: 6)
        let decoded = try WireFormat.decode(WireFormat.encode(reply))
        #expect(decoded.reply.code == .malformedFrame)
        #expect(decoded.reply.message.contains("ends in the middle"))
        #expect(decoded.reply.mapEpoch == 6)
    }
}

/// A small seeded generator so the garbage is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
