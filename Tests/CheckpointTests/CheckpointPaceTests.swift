import Testing
@testable import Checkpoint
import WorldCore

@Suite struct CheckpointPaceTests {
    @Test func theFirstCheckpointTakesTheCeiling() {
        let pace = CheckpointPace(target: .milliseconds(250), maxRows: 2000)
        #expect(pace.rowLimit == 2000)
    }

    @Test func aSlowDatabaseGetsShorterCheckpoints() {
        var pace = CheckpointPace(target: .milliseconds(250), maxRows: 2000)
        pace.wrote(rows: 2000, in: .seconds(1))  // 2,000 rows/s: a quarter second holds 500
        #expect(pace.rowLimit == 500)
        pace.wrote(rows: 500, in: .milliseconds(125))  // 4,000 rows/s; the estimate moves half way
        #expect(pace.rowLimit == 750)
        for _ in 0..<20 { pace.wrote(rows: 100, in: .seconds(10)) }  // nearly stalled
        #expect(pace.rowLimit == CheckpointPace.minimumRows)
        for _ in 0..<20 { pace.wrote(rows: 2000, in: .milliseconds(20)) }  // fast again
        #expect(pace.rowLimit == 2000)
    }

    @Test func intakeClosesEarlierByTheSlowestRecentWrite() {
        var pace = CheckpointPace(target: .milliseconds(250), maxRows: 2000)
        let window = Duration.seconds(2)
        #expect(pace.intakeLead(window: window) == .zero)  // nothing written yet
        pace.wrote(rows: 2000, in: .milliseconds(100))
        #expect(pace.intakeLead(window: window) == .milliseconds(100))
        pace.wrote(rows: 2000, in: .milliseconds(400))  // a slow one counts at once
        #expect(pace.intakeLead(window: window) == .milliseconds(400))
        pace.wrote(rows: 2000, in: .milliseconds(50))  // and fades
        #expect(abs(pace.intakeLead(window: window).milliseconds - 320) < 0.001)
        for _ in 0..<30 { pace.wrote(rows: 2000, in: .milliseconds(50)) }
        #expect(pace.intakeLead(window: window) == .milliseconds(50))
        pace.wrote(rows: 2000, in: .seconds(3))  // at most a quarter of the window
        #expect(pace.intakeLead(window: window) == .milliseconds(500))
    }

    @Test func aCeilingBelowTheMinimumWins() {
        var pace = CheckpointPace(target: .milliseconds(250), maxRows: 40)
        pace.wrote(rows: 40, in: .seconds(10))
        #expect(pace.rowLimit == 40)
        pace.wrote(rows: 0, in: .zero)  // nothing to learn from
        #expect(pace.rowLimit == 40)
    }
}
