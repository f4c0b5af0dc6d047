import Testing
@testable import Soak

@Suite struct StorageTallyTests {
    typealias Counts = StorageTally.Counts

    @Test func aWorkersNewestFiguresCountOnce() {
        var tally = StorageTally()
        tally.note(worker: "w1", Counts(updates: 100, writes: 3, reads: 1, calls: ["checkpoint-writer": 3]))
        tally.note(worker: "w1", Counts(updates: 900, writes: 10, reads: 2, calls: ["checkpoint-writer": 11]))
        tally.note(worker: "w2", Counts(updates: 50, writes: 1, reads: 0, calls: ["storage-io": 4]))
        #expect(tally.total == Counts(updates: 950, writes: 11, reads: 2, calls: ["checkpoint-writer": 11, "storage-io": 4]))
    }

    /// A killed worker started again under its id reports from zero: what the first incarnation
    /// did is still counted (the report counted only the newest before).
    @Test func aRestartedWorkersEarlierIncarnationStillCounts() {
        var tally = StorageTally()
        tally.note(worker: "w1", Counts(updates: 1_000, writes: 40, reads: 5, calls: ["checkpoint-writer": 42]))
        tally.note(worker: "w1", Counts(updates: 30, writes: 2, reads: 9, calls: ["checkpoint-writer": 2]))  // restarted
        tally.note(worker: "w1", Counts(updates: 300, writes: 12, reads: 11, calls: ["checkpoint-writer": 13]))
        tally.note(worker: "w2", Counts(updates: 500, writes: 20, reads: 1, calls: [:]))
        #expect(tally.total == Counts(updates: 1_800, writes: 72, reads: 17, calls: ["checkpoint-writer": 55]))
        // Any count going back starts a new incarnation, even when the others grew.
        tally.note(worker: "w2", Counts(updates: 900, writes: 25, reads: 0, calls: [:]))
        #expect(tally.total.updates == 1_800 + 900 && tally.total.writes == 72 + 25)
        #expect(Counts(updates: 5, writes: 5, reads: 5, calls: ["a": 1]).wentBack(from: Counts(updates: 5, writes: 5, reads: 5, calls: ["a": 2])))
        #expect(!Counts(updates: 5, writes: 5, reads: 5, calls: ["a": 2]).wentBack(from: Counts(updates: 5, writes: 5, reads: 5, calls: ["a": 2])))
    }
}
