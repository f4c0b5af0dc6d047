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

@Suite(.enabled(if: Context.has("curve"), "libzmq was built without CURVE"))
struct ZAPTests {
    @Test func onlyKeysTheHandlerKnowsGetInAndTheirMessagesCarryTheUserID() throws {
        let serverKeys = try CurveKeyPair.generate()
        let friend = try CurveKeyPair.generate()
        let server = try Context(curve: CurveSetup(own: serverKeys, serverKey: serverKeys.publicKey))
        let known = friend.publicKey
        try server.authenticate { $0 == known ? "client/friend" : nil }
        let router = try Socket(server, .router)
        let endpoint = try router.bind("tcp://127.0.0.1:0")

        let friendly = try Socket(try Context(curve: CurveSetup(own: friend, serverKey: serverKeys.publicKey)), .dealer)
        try friendly.connect(endpoint)
        try friendly.send([Array("hello".utf8)])
        var poller = Poller()
        poller.add(router)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [0])
        let received = try #require(try router.receiveWithUser())
        #expect(received.frames.last == Array("hello".utf8))
        #expect(received.user == "client/friend")

        // A CURVE key the handler does not know, and a plain socket: neither gets a message through.
        let stranger = try Socket(try Context(curve: CurveSetup(own: try CurveKeyPair.generate(), serverKey: serverKeys.publicKey)), .dealer)
        try stranger.connect(endpoint)
        try stranger.send([Array("stranger".utf8)], dontWait: true)
        let plain = try Socket(try Context(), .dealer)
        try plain.connect(endpoint)
        try plain.send([Array("plain".utf8)], dontWait: true)
        #expect(try poller.poll(timeoutMilliseconds: 500).isEmpty)

        // The friend is still served.
        try friendly.send([Array("again".utf8)])
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [0])
        #expect(try router.receiveWithUser()?.frames.last == Array("again".utf8))
    }

    @Test func aMalformedZAPRequestIsRefusedNotCrashed() {
        let refusal = ZAPHandler.answer([Array("1.0".utf8)], { _ in "x" })
        #expect(refusal[2] == Array("500".utf8))
        let plain = ZAPHandler.answer(["1.0", "7", "", "127.0.0.1", "", "NULL"].map { Array($0.utf8) }, { _ in "x" })
        #expect(plain[2] == Array("400".utf8))
        #expect(plain[1] == Array("7".utf8))
    }
}
