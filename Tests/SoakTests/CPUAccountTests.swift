import Foundation
import ProcessKit
import Testing
@testable import Soak

@Suite struct CPUAccountTests {
    @Test func aWorkersCPUPerAnswerIsTheChangeBetweenPolls() throws {
        var account = CPUAccount(pgDataFolder: nil)
        account.note(worker: "w1", answered: 1_000, cpuUs: 50_000)  // before the load: not counted
        account.note(worker: "w1", answered: 3_000, cpuUs: 130_000)
        account.note(worker: "w1", answered: 11_000, cpuUs: 450_000)
        account.note(worker: "w2", answered: 500, cpuUs: 10_000)
        account.note(worker: "w2", answered: 4_500, cpuUs: 90_000)
        let cpu = account.report
        #expect(cpu.byWorkerUsPerAnswer["w1"] == 40)  // 400,000 µs over 10,000 answers
        #expect(cpu.byWorkerUsPerAnswer["w2"] == 20)  // 80,000 µs over 4,000
        #expect(cpu.workersUsPerAnswer == 480_000.0 / 14_000.0)
        #expect(cpu.generatorUsPerAnswer == nil && cpu.postgresUsPerAnswer == nil)  // never started
    }

    @Test func aRestartedWorkerStartsANewIncarnationInsteadOfGoingBackwards() throws {
        var account = CPUAccount(pgDataFolder: nil)
        account.note(worker: "w1", answered: 0, cpuUs: 1_000)
        account.note(worker: "w1", answered: 1_000, cpuUs: 31_000)  // 30 µs each
        account.note(worker: "w1", answered: 10, cpuUs: 2_000)  // killed and started again
        account.note(worker: "w1", answered: 1_010, cpuUs: 12_000)  // 10 µs each
        #expect(account.report.byWorkerUsPerAnswer["w1"] == 20)  // 40,000 µs over 2,000
        account.note(worker: "w2", answered: 100, cpuUs: 0)  // reports no CPU (an older worker): skipped
        #expect(account.report.byWorkerUsPerAnswer["w2"] == nil)
    }

    @Test func theGeneratorsShareIsThisProcesssCPUOverItsAnswers() throws {
        var account = CPUAccount(pgDataFolder: nil)
        account.start(generatorAnswered: 0)
        var x = 0.0
        for i in 0..<2_000_000 { x += sqrt(Double(i)) }  // some CPU to measure
        #expect(x > 0)
        account.end(generatorAnswered: 1_000)
        let us = try #require(account.report.generatorUsPerAnswer)
        #expect(us > 0)
    }

    @Test func processCPUReadsProcForThisProcessAndItsChildren() throws {
        let mine = try #require(ProcessCPU.of(pid: getpid()))
        let own = ProcessCPU.ofThisProcess()
        // /proc counts whole clock ticks (10 ms), read after the precise clock: within a few ticks.
        #expect(mine <= own + .milliseconds(100) && own <= mine + .milliseconds(100))
        let tree = try #require(ProcessCPU.ofTree(root: getpid()))
        #expect(tree >= mine)
        #expect(ProcessCPU.of(pid: Int32.max) == nil)
    }

    @Test func thePostmasterPIDComesFromTheDataFolderOrWhereItMoved() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cpu-account-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try "4242\n/some/data\n".write(toFile: dir + "/data/postmaster.pid", atomically: true, encoding: .utf8)
        #expect(CPUAccount.postmasterPID(dataFolder: dir) == 4242)
        try FileManager.default.createDirectory(atPath: dir + "/moved/data", withIntermediateDirectories: true)
        try "777\n".write(toFile: dir + "/moved/data/postmaster.pid", atomically: true, encoding: .utf8)
        try (dir + "/moved\n").write(toFile: dir + "/data-location", atomically: true, encoding: .utf8)
        #expect(CPUAccount.postmasterPID(dataFolder: dir) == 777)
        #expect(CPUAccount.postmasterPID(dataFolder: dir + "/none") == nil)
    }
}
