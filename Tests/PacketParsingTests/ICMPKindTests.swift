import PacketParsing
import Testing

@Suite struct ICMPKindTests {
    @Test(arguments: [(UInt8(0), UInt8(8)), (14, 13), (16, 15), (18, 17), (9, 10)])
    func anIPv4ReplyBelongsWithItsRequest(_ reply: UInt8, _ request: UInt8) {
        #expect(ICMPKind.requestType(of: reply, v6: false) == request)
        #expect(ICMPKind.isReply(reply, v6: false))
        #expect(!ICMPKind.isReply(request, v6: false))
    }

    @Test(arguments: [(UInt8(129), UInt8(128)), (134, 133), (136, 135)])
    func anIPv6ReplyBelongsWithItsRequest(_ reply: UInt8, _ request: UInt8) {
        #expect(ICMPKind.requestType(of: reply, v6: true) == request)
        #expect(ICMPKind.isReply(reply, v6: true))
        #expect(!ICMPKind.isReply(request, v6: true))
    }

    @Test func errorsAreNeitherRequestsNorReplies() {
        for type in [UInt8(3), 4, 5, 11, 12] { #expect(ICMPKind.requestType(of: type, v6: false) == type) }
        for type in [UInt8(1), 2, 3, 4] { #expect(ICMPKind.requestType(of: type, v6: true) == type) }
    }

    @Test func onlyQueriesCarryAnIdentifier() {
        #expect(ICMPKind.carriesIdentifier(type: 8, v6: false))
        #expect(ICMPKind.carriesIdentifier(type: 13, v6: false))
        #expect(!ICMPKind.carriesIdentifier(type: 3, v6: false))
        #expect(ICMPKind.carriesIdentifier(type: 129, v6: true))
        #expect(!ICMPKind.carriesIdentifier(type: 135, v6: true))
    }
}
