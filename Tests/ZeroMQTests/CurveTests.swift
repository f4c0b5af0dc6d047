import Testing
@testable import ZeroMQ

@Suite(.enabled(if: Context.has("curve"), "libzmq was built without CURVE"))
struct CurveTests {
    let context = try! Context()

    @Test func encryptedRoundTripAndAWrongServerKeyGetsNothing() throws {
        let serverKeys = try CurveKeyPair.generate()
        #expect(serverKeys.publicKey.utf8.count == 40)
        let server = try Socket(context, .router)
        try server.setCurveServer(secretKey: serverKeys.secretKey)
        let endpoint = try server.bind("tcp://127.0.0.1:0")

        let good = try Socket(context, .dealer)
        try good.setCurveClient(serverKey: serverKeys.publicKey, keys: try CurveKeyPair.generate())
        try good.connect(endpoint)
        try good.send([Array("secret".utf8)])
        let frames = try #require(try Poller.waitOne(server, milliseconds: 5000))
        #expect(frames.last == Array("secret".utf8))

        let impostor = try Socket(context, .dealer)
        try impostor.setCurveClient(serverKey: try CurveKeyPair.generate().publicKey, keys: try CurveKeyPair.generate())
        try impostor.connect(endpoint)
        try impostor.send([Array("let me in".utf8)], dontWait: true)
        #expect(try Poller.waitOne(server, milliseconds: 300) == nil)
    }
}
