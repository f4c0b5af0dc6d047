import Foundation
import Testing
import TestSupport
@testable import Client
@testable import Wire
import WorldCore
@testable import ZeroMQ

/// A worker holds the replies of one drain of its socket and sends them together
/// (`WorkerNode+HeldReplies`): every request still gets exactly its own answer, also when a
/// drain holds more than one flush's worth.
@Suite struct HeldRepliesTests {
    @Test func pipelinedRequestsBeyondOneFlushAreEachAnsweredOnce() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!)
            defer { worker.process.killHard() }
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100))
            // Sent without waiting, so that the worker finds many in one drain.
            let count = 5 * 64 + 7
            var ids: [UInt64] = []
            for step in 0..<count {
                let id = client.takeRequestID()
                ids.append(id)
                try client.resend(frame: WireFormat.encodeMove(requestID: id, sender: client.name, entityID: 1, x: 100 + Double(step % 20), y: 100, cellID: 0), id: id)
            }
            var answers: [UInt64: Cellcluster_V1_Reply] = [:]
            var repeated = 0
            let deadline = ContinuousClock.now + .seconds(20)
            while answers.count < count, let envelope = try client.receive(until: deadline) {
                guard case .reply(let reply)? = envelope.body else { continue }
                if answers.updateValue(reply, forKey: envelope.requestID) != nil { repeated += 1 }
            }
            #expect(answers.count == count && repeated == 0, "\(answers.count) of \(count) answered, \(repeated) twice")
            #expect(ids.allSatisfy { answers[$0]?.code == .ok })
            // Moves of one entity are applied in the order sent: versions 2 to count + 1.
            #expect(ids.map { answers[$0]?.version ?? 0 } == Array(2...UInt64(count + 1)))
            #expect(try client.entity(EntityID(1)).version == UInt64(count + 1))
        }
    }
}
