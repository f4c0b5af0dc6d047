import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

@Suite struct BoundaryTests {
    @Test func aPlayerAtTheBorderActivatesTheNeighboursCells() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ["cache.hysteresis_ms=200"])
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: HandoffTests.grid)
            try client.refreshMap()
            let (a, b) = try HandoffTests.border(client.map!)
            let w2 = try CellClient(context: context, endpoint: cluster.endpoint(of: "w2")!)
            #expect(try w2.cell(b).active == false)

            // A player of w1 right at the border: w2 activates its cells within the radius.
            #expect(try client.spawn(Entity(id: EntityID(1), kind: .player, position: HandoffTests.center(a), cell: a)).code == .ok)
            #expect(HandoffTests.eventually(timeout: .seconds(5)) { try w2.cell(b).active })
            let event = try w2.call(.worldEvent(.with { $0.cellID = b.raw; $0.name = "bell" }))
            #expect(event.code == .ok)
            #expect(!event.deferred)  // applied at once: the cell is active

            // The player goes deep into w1 (one long move, still w1's): w2's cell cools down and
            // leaves the active set.
            let far = try CoordinatorTests.cells(of: client.map!)["w1"]!
            #expect(HandoffTests.grid.distance(far, b) > 2)
            #expect(try client.move(EntityID(1), to: HandoffTests.center(far)).code == .ok)
            #expect(HandoffTests.eventually(timeout: .seconds(5)) { try w2.cell(b).active == false })
        }
    }
}
