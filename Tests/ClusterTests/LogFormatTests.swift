import Foundation
import Logging
import Testing
import ProcessKit
import TestSupport
@testable import Cluster

/// Log lines with millisecond UTC timestamps, as text or one JSON object per line.
struct LogFormatTests {
    static let time = Date(timeIntervalSince1970: 1_796_040_018.123)

    @Test func textAndJSONLinesCarryMillisecondsAndTheMetadata() throws {
        let text = LineLogHandler.line(format: .text, time: Self.time, level: .warning, label: "cellcluster.worker",
                                       message: "failover", metadata: ["cell": "12"], source: "Cluster")
        #expect(text == "2026-11-30T12:00:18.123Z warning cellcluster.worker: cell=12 [Cluster] failover")
        let json = LineLogHandler.line(format: .json, time: Self.time, level: .info, label: "cellcluster.worker",
                                       message: "say \"hi\"\nthere", metadata: ["cell": "12", "msg": "not this"], source: "Cluster")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        #expect(object == ["ts": "2026-11-30T12:00:18.123Z", "level": "info", "logger": "cellcluster.worker",
                           "msg": "say \"hi\"\nthere", "source": "Cluster", "cell": "12"])
        #expect(!json.contains("\n"))
    }

    @Test func aWorkerLogsJSONLinesWhenAsked() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, extra: ["--log-format", "json"])
            worker.process.signal(SIGINT)
            _ = worker.process.waitForExit(timeout: .seconds(30))
            let lines = worker.process.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(lines.count >= 2, "\(worker.process.stderr)")
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                #expect(object?["ts"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(line)")
                #expect(object?["logger"] == "cellcluster.worker")
            }
        }
    }
}
