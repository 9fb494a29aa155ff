import NameParsing
import Testing

@Suite struct QUICInitialTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func derivesTheVersion1ClientKeysOfRFC9001() {
        let keys = QUICInitial.clientKeys(destinationConnectionID: QUICVectors.destinationConnectionID, version: .v1)
        #expect(hex(keys.key) == "1f369613dd76d5467730efcbe3b1a22d")
        #expect(hex(keys.iv) == "fa044b2f42a3fd3b46fb255c")
        #expect(hex(keys.headerProtection) == "9f50449e04a0e810283a1e9933adedd2")
    }

    @Test func derivesTheVersion2ClientKeysOfRFC9369() {
        let keys = QUICInitial.clientKeys(destinationConnectionID: QUICVectors.destinationConnectionID, version: .v2)
        #expect(hex(keys.key) == "8b1a0bc121284290a29e0971b5cd045d")
        #expect(hex(keys.iv) == "91f73e2351d8fa91660e909f")
        #expect(hex(keys.headerProtection) == "45b95e15235d6f45a6b19cbcb0294ba9")
    }

    @Test(arguments: [(QUICVectors.v1ClientInitial, "v1"), (QUICVectors.v2ClientInitial, "v2")])
    func opensTheRFCClientInitialAndReadsItsServerName(packet: [UInt8], version: String) throws {
        #expect(packet.count == 1200)
        #expect(packet.withUnsafeBytes { QUICInitial.looksLikeInitial($0) })
        let opened = try packet.withUnsafeBytes { try QUICInitial.open($0) }
        #expect(opened.version == (version == "v1" ? .v1 : .v2))
        #expect(opened.packetNumber == 2)
        #expect(opened.cryptoFrames.count == 1)
        var assembler = CryptoStreamAssembler()
        for frame in opened.cryptoFrames { assembler.add(offset: frame.offset, data: frame.data) }
        let hello = try assembler.clientHello()
        #expect(hello?.serverName == "example.com")
        #expect(hello?.encryptedClientHello == false)
    }

    @Test func doesNotOpenTheServerInitialWithClientKeys() {
        let keys = QUICInitial.clientKeys(destinationConnectionID: QUICVectors.destinationConnectionID, version: .v1)
        #expect(throws: QUICInitialError.decryptionFailed) {
            try QUICVectors.v1ServerInitial.withUnsafeBytes { try QUICInitial.open($0, keys: keys) }
        }
    }

    @Test func rejectsATamperedPacket() {
        var packet = QUICVectors.v1ClientInitial
        packet[600] ^= 0x01
        #expect(throws: QUICInitialError.decryptionFailed) { try packet.withUnsafeBytes { try QUICInitial.open($0) } }
    }

    @Test func rejectsTruncatedPacketsWithoutTrapping() {
        for length in [0, 1, 5, 6, 14, 18, 22, 40, 600, 1199] {
            let packet = Array(QUICVectors.v1ClientInitial.prefix(length))
            #expect(throws: QUICInitialError.self) { try packet.withUnsafeBytes { try QUICInitial.open($0) } }
        }
    }

    @Test func assemblesCryptoDataArrivingOutOfOrder() throws {
        let handshake = ClientHelloBuilder.handshake(serverName: "quic.example", padding: 900)
        var assembler = CryptoStreamAssembler()
        let cut = 500
        assembler.add(offset: cut, data: handshake[cut...])
        #expect(try assembler.clientHello() == nil)
        assembler.add(offset: 0, data: handshake[..<cut])
        #expect(try assembler.clientHello()?.serverName == "quic.example")
    }
}
