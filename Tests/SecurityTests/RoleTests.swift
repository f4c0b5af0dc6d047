import Foundation
import Testing
@testable import Security
import Wire
import ZeroMQ

struct RoleTests {
    @Test func eachRoleMaySendWhatTheIssueSaysAndNothingMore() {
        let game: [Envelope.OneOf_Body] = [.moveEntity(.init()), .spawnEntity(.init()), .getCell(.init()), .getShardMap(.init())]
        let cluster: [Envelope.OneOf_Body] = [.handoffOffer(.init()), .activateCells(.init()), .heartbeat(.init()), .registerWorker(.init())]
        let operation: [Envelope.OneOf_Body] = [.scaleRequest(.init()), .auditRequest(.init()), .statusRequest(.init())]
        for body in game { #expect(Role.allCases.allSatisfy { $0.permits(body) }) }
        for body in cluster {
            #expect(Role.worker.permits(body))
            #expect(!Role.client.permits(body) && !Role.operator.permits(body))
        }
        for body in operation {
            #expect(Role.operator.permits(body))
            #expect(!Role.client.permits(body) && !Role.worker.permits(body))
        }
        let drain = Envelope.OneOf_Body.drainRequest(.init())
        #expect(Role.operator.permits(drain) && Role.worker.permits(drain) && !Role.client.permits(drain))
        #expect(!Role.client.permits(.reply(.init())) && !Role.operator.permits(.leaseGrant(.init())))
    }

    @Test func theGateScopesSendersByKeyAndRefusesWhatTheRoleMayNotSend() {
        let gate = Gate(enforcing: true)
        var move = Envelope.with { $0.sender = "client:bob"; $0.moveEntity = .init() }
        #expect(gate.admit(&move, user: "client/alice") == .admit)
        #expect(move.sender == "alice/client:bob")

        var scale = Envelope.with { $0.sender = "admin"; $0.scaleRequest = .init() }
        guard case .deny(let why) = gate.admit(&scale, user: "client/alice") else { Issue.record("a client scaled"); return }
        #expect(why.contains("scale_request") && why.contains("client"))
        #expect(gate.admit(&scale, user: "operator/ops") == .admit)

        var offer = Envelope.with { $0.sender = "worker:w1"; $0.handoffOffer = .init() }
        #expect(gate.admit(&offer, user: "worker/worker") == .admit)
        #expect(offer.sender == "worker:w1")  // a worker's sender routes replies and needs: kept

        var anonymous = Envelope.with { $0.moveEntity = .init() }
        #expect(gate.admit(&anonymous, user: nil) != .admit)
        #expect(gate.admit(&anonymous, user: "nobody/x") != .admit)
        var open = Envelope.with { $0.scaleRequest = .init() }
        #expect(Gate(enforcing: false).admit(&open, user: nil) == .admit)
    }
}

struct KeyFileTests {
    static func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-keys-\(UUID().uuidString)").path
        return path
    }

    @Test func keysRoundTripAndTheSecretFileIsTheOwnersAlone() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = try KeyFile.generate(name: "alice", role: .client)
        try key.write(to: dir)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(dir)/alice.key_secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try KeyFile.read("\(dir)/alice.key_secret") == key)
        let público = try KeyFile.read("\(dir)/alice.key")
        #expect(público.secretKey == nil && público.publicKey == key.publicKey && público.role == .client)
        #expect(throws: SecurityError.self) { try key.write(to: dir) }  // no silent overwrite

        chmod("\(dir)/alice.key_secret", 0o644)
        let error = #expect(throws: SecurityError.self) { try KeyFile.read("\(dir)/alice.key_secret") }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func brokenKeyFilesNameTheProblem() {
        let cases = [
            ("name = a\nrole = admin\npublic-key = \"x\"", "role must be one of"),
            ("name = a\nrole = client\npublic-key = \"short\"", "public-key"),
            ("role = client", "name"),
            ("garbage", "line 1"),
        ]
        for (text, expected) in cases {
            let error = #expect(throws: SecurityError.self) { try KeyFile.parse(text, path: "k.key") }
            #expect(error?.description.contains(expected) == true, "\(text)")
        }
        #expect(throws: SecurityError.self) { try KeyFile.generate(name: "../evil", role: .client) }
    }

    @Test func aKeyRingLetsInItsFolderByRole() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try [Role.worker, .client, .operator].map { role in
            let key = try KeyFile.generate(name: role.rawValue, role: role)
            try key.write(to: dir)
            return key
        }
        let ring = try KeyRing.load(folder: dir, presenting: "client")
        #expect(ring.curve.serverKey == keys[0].publicKey)
        #expect(ring.curve.own.publicKey == keys[1].publicKey)
        #expect(ring.authorize(keys[2].publicKey) == "operator/operator")
        #expect(ring.authorize(try CurveKeyPair.generate().publicKey) == nil)
        #expect(throws: SecurityError.self) { try KeyRing.load(folder: dir, presenting: "nobody") }

        // A second file with a name already taken, or a folder others may write to: refused.
        var copy = try String(contentsOfFile: "\(dir)/client.key", encoding: .utf8)
        copy = copy.replacingOccurrences(of: keys[1].publicKey, with: try CurveKeyPair.generate().publicKey)
        try copy.write(toFile: "\(dir)/client2.key", atomically: true, encoding: .utf8)
        let duplicate = #expect(throws: SecurityError.self) { try KeyRing.load(folder: dir, presenting: "client") }
        #expect(duplicate?.message.contains("key names must differ") == true)
        try FileManager.default.removeItem(atPath: "\(dir)/client2.key")
        chmod(dir, 0o777)
        let open = #expect(throws: SecurityError.self) { try KeyRing.load(folder: dir, presenting: "client") }
        #expect(open?.message.contains("others may write") == true)
        #expect(throws: SecurityError.self) { try KeyFile.generate(name: "eve", role: .operator).write(to: dir) }
    }
}
