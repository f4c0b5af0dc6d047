@testable import Wire

/// Batch reply frames the decoders' tests read: as a worker writes them, and from the generated encoder.
enum SampleReplies {
    /// As a worker writes a batch's answers: each into one buffer (request ids 1, 4, 7, …), then
    /// the batch reply around them.
    static func written(_ answers: [ChangeAnswer]) -> [UInt8] {
        var body: [UInt8] = []
        var starts: [Int32] = [], counts: [Int32] = []
        for (i, answer) in answers.enumerated() {
            let start = body.count
            WireFormat.appendReply(requestID: UInt64(i) * 3 + 1, sender: "worker:w1", answer, to: &body)
            starts.append(Int32(start))
            counts.append(Int32(body.count - start))
        }
        return WireFormat.encodeBatchReply(requestID: 1 << 40, sender: "worker:w1", replies: body, starts: starts, counts: counts)
    }

    /// A batch reply from the generated encoder: `replies` under request ids 10, 11, …, every
    /// other one naming a sender.
    static func generated(_ replies: some Collection<Cellcluster_V1_Reply>, requestID: UInt64, sender: String) -> [UInt8] {
        var batch = Envelope()
        batch.protocolVersion = WireFormat.protocolVersion
        batch.requestID = requestID
        batch.sender = sender
        batch.batchReply = .with {
            $0.replies = replies.enumerated().map { i, reply in
                var request = Envelope()
                request.requestID = UInt64(i) + 10
                return request.reply(reply, sender: i % 2 == 0 ? "worker:w2" : "")
            }
        }
        return (try? batch.serializedBytes()) ?? []
    }
}
