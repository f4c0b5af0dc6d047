import Testing
@testable import Soak

@Suite struct DurableAccountTests {
    /// The means are over the changes that committed between the polls, each worker's and each
    /// incarnation's; a restarted worker's counts start again instead of going backwards.
    @Test func aDurableChangesMeanWaitAndWriteComeFromTheChangeBetweenPolls() throws {
        var account = DurableAccount()
        #expect(account.report == nil, "nothing committed")
        account.note(worker: "w1", changes: 100, commits: 10, queuedUs: 50_000, commitUs: 90_000)  // before: not counted
        account.note(worker: "w1", changes: 1_100, commits: 110, queuedUs: 1_050_000, commitUs: 2_090_000)
        account.note(worker: "w2", changes: 0, commits: 0, queuedUs: 0, commitUs: 0)
        account.note(worker: "w2", changes: 500, commits: 100, queuedUs: 1_000_000, commitUs: 500_000)
        account.note(worker: "w2", changes: 20, commits: 4, queuedUs: 10_000, commitUs: 10_000)  // restarted
        account.note(worker: "w2", changes: 520, commits: 54, queuedUs: 510_000, commitUs: 510_000)
        let d = try #require(account.report)
        #expect(d.changes == 2_000 && d.commits == 250)
        #expect(d.queuedMsMean == 1.25)  // 1,000,000 + 1,000,000 + 500,000 µs over 2,000
        #expect(d.commitMsMean == 1.5)  // 2,000,000 + 500,000 + 500,000 µs over 2,000
        #expect(d.line.contains("2000 changes in 250 commits (8.0 a commit)"))
    }

    @Test func incarnationSumsAddTheChangeOfEachIncarnation() {
        var sums = IncarnationSums()
        sums.note(worker: "w1", [10, 100])
        sums.note(worker: "w1", [30, 100])
        sums.note(worker: "w1", [5, 200])  // one count went back: another process
        sums.note(worker: "w1", [15, 260])
        #expect(sums.byWorker["w1"] == [30, 60])
        sums.note(worker: "w2", [1, 1])
        #expect(sums.total == [30, 60])
        #expect(IncarnationSums().total.isEmpty)
    }
}
