import Capture
import Content
import Crypto
import Export
import Foundation
import HTTP
import LlamaRunner
import LlamaServer
import Monitor
import NameParsing
import PacketParsing
import Policy
import _CryptoExtras

/// A parser of untrusted bytes, fed one input at a time the way the product feeds it.
///
/// Every parser must return or throw on any input; a trap, a sanitizer report or a hang is a finding.
enum FuzzTarget: String, CaseIterable, Sendable {
    case packet
    case dns
    case clienthello
    case quic
    case httpHost = "http-host"
    case pcap
    case gguf
    case rules
    case config
    case httpRequest = "http-request"
    /// Request bodies to model runtimes (HTTP/1 reassembly of a loopback stream), then their text.
    case runtimeRequest = "runtime-request"
    /// A runtime API body's JSON, as the prompt extractor reads it.
    case promptBody = "prompt-body"
    /// Egress plaintext through the content matcher, against prompts recorded from the same bytes.
    case egressContent = "egress-content"
    /// What a local client sends the metrics endpoint: the head's end, then the answer to it.
    case metricsHead = "metrics-head"
    /// An evidence bundle as `telltale verify` reads it: the manifest, the flows and the capture.
    case evidenceBundle = "evidence-bundle"

    /// Runs one input through the parser; the result is thrown away.
    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .packet: Self.packet(bytes)
        case .dns:
            _ = try? DNSParser.parse(bytes)
            _ = try? DNSParser.parseStream(bytes)
        case .clienthello:
            if ClientHelloParser.looksLikeClientHelloRecord(bytes) { _ = try? ClientHelloParser.parseRecords(bytes) }
            _ = try? ClientHelloParser.parseHandshake(bytes)
        case .quic: Self.quic(bytes)
        case .httpHost:
            _ = HTTPRequestHost.looksLikeRequest(bytes)
            _ = HTTPRequestHost.host(in: bytes)
        case .pcap: Self.pcap(bytes)
        case .gguf: _ = try? GGUFHeader.parse(Array(bytes))
        case .rules: _ = try? RuleSet.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        case .config: _ = try? DaemonConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        case .httpRequest: _ = try? HTTPRequest.parseHead(bytes)
        case .runtimeRequest: ContentFuzz.requestStream(Array(bytes))
        case .promptBody: ContentFuzz.promptText(Array(bytes))
        case .egressContent: ContentFuzz.egress(Array(bytes))
        case .metricsHead:
            let bytes = Array(bytes)
            if let end = HTTPRequest.headEnd(in: bytes), let head = try? HTTPRequest.parseHead(bytes[..<end]) {
                let request = HTTPRequest(method: head.method, path: head.path, query: head.query, headers: head.headers)
                _ = MetricsServer.reply(to: request, metrics: "telltale_up 1\n")
            }
        case .evidenceBundle: Self.evidenceBundle(bytes)
        }
    }

    /// A directory of this process, written afresh for each input.
    nonisolated(unsafe) static var bundleDirectory: String?

    /// Two length bytes each for the manifest and the flows, then those, then the capture.
    private static func evidenceBundle(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        guard input.count >= 4 else { return }
        let manifestLength = Int(input[0]) << 8 | Int(input[1]), flowsLength = Int(input[2]) << 8 | Int(input[3])
        var rest = input[4...]
        let manifest = rest.prefix(manifestLength)
        rest = rest.dropFirst(manifest.count)
        let flows = rest.prefix(flowsLength)
        let capture = rest.dropFirst(flows.count)
        let directory = bundleDirectory ?? {
            let made = NSTemporaryDirectory() + "telltale-fuzz-bundle-\(getpid())"
            try? FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: true)
            bundleDirectory = made
            return made
        }()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        FileManager.default.createFile(atPath: directory + "/" + EvidenceBundle.manifestName, contents: Data(manifest))
        FileManager.default.createFile(atPath: directory + "/" + EvidenceBundle.flowsName, contents: Data(flows))
        FileManager.default.createFile(atPath: directory + "/" + EvidenceBundle.captureName, contents: Data(capture))
        _ = EvidenceBundle.verify(directory)
    }

    /// The link types a capture can declare; the packet input's first byte picks one.
    static let linkTypes: [LinkType] = [.ethernet, .linuxCooked, .linuxCookedV2, .null, .loop, .raw, .ipv4, .ipv6]

    /// First byte: the link type (and whether the wire length claims more than was captured); the rest: the frame.
    private static func packet(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let frame = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        let decoder = PacketDecoder(linkType: linkTypes[Int(first) % linkTypes.count])
        let wireLength = first & 0x80 == 0 ? frame.count : frame.count + 1500
        _ = try? decoder.decode(frame, wireLength: wireLength)
    }

    /// First byte, low bit clear: the rest is a UDP payload, opened the way the name tracker opens
    /// one. Set: the rest is the plaintext of a client Initial (bit 1: QUIC v2), sealed here with
    /// the keys of a fixed connection ID, so mutations reach the frame parser behind the AEAD.
    private static func quic(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let rest = Array(bytes.dropFirst())
        let datagram = first & 1 == 0 ? rest : QUICSealer.seal(rest, version: first & 2 == 0 ? .v1 : .v2)
        datagram.withUnsafeBytes { raw in
            guard QUICInitial.looksLikeInitial(raw) || first & 1 == 1 else { return }
            guard let packets = try? QUICInitial.openDatagram(raw) else { return }
            var crypto = CryptoStreamAssembler()
            for packet in packets {
                for frame in packet.cryptoFrames { crypto.add(offset: frame.offset, data: frame.data) }
            }
            _ = try? crypto.clientHello()
        }
    }

    /// Writes the input to a file and reads it back as `telltale replay` would (a classic pcap file
    /// in this machine's byte order through our block reader, any other through libpcap), decoding
    /// each record.
    private static func pcap(_ bytes: UnsafeRawBufferPointer) {
        let path = ScratchFile.path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        guard let handle = try? PcapHandle.openFile(path) else { return }
        let decoder = PacketDecoder(linkType: handle.linkType)
        // A file of n bytes holds fewer than n records; the bound only stops a reader that never ends.
        for _ in 0...bytes.count {
            let result = try? handle.dispatch(limit: 64) { frame, wireLength, _ in
                _ = try? decoder.decode(frame, wireLength: wireLength)
            }
            guard case .packets = result else { return }
        }
    }
}

/// The one scratch file the pcap target rewrites for each input, removed at exit.
enum ScratchFile {
    static let path: String = {
        let path = NSTemporaryDirectory() + "telltale-fuzz-\(getpid()).pcap"
        atexit { unlink(ScratchFile.path) }
        return path
    }()
}

/// Seals a plaintext as a client Initial packet (RFC 9001 §5), the inverse of `QUICInitial.open`.
enum QUICSealer {
    static let destinationConnectionID: [UInt8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]

    static func seal(_ plaintext: [UInt8], version: QUICInitial.Version) -> [UInt8] {
        // A two-byte length field holds at most 16383; the four-byte packet number and the tag count too.
        let payload = Array(plaintext.prefix(16_383 - 4 - 16))
        let keys = QUICInitial.clientKeys(destinationConnectionID: destinationConnectionID, version: version)
        let packetNumber: [UInt8] = [0, 0, 0, 2]
        let length = packetNumber.count + payload.count + 16
        let typeBits: UInt8 = version == .v1 ? 0b00 : 0b01
        let raw = version.rawValue
        // Long header, Initial, a four-byte packet number.
        var header: [UInt8] = [0xc0 | typeBits << 4 | 0x03]
        header += [UInt8(raw >> 24), UInt8((raw >> 16) & 0xff), UInt8((raw >> 8) & 0xff), UInt8(raw & 0xff)]
        header += [UInt8(destinationConnectionID.count)] + destinationConnectionID
        header += [0, 0]  // no source connection ID, no token
        header += [0x40 | UInt8(length >> 8), UInt8(length & 0xff)]
        header += packetNumber
        var nonce = keys.iv
        for index in 0..<4 { nonce[8 + index] ^= packetNumber[index] }
        guard let sealed = try? AES.GCM.seal(
            payload, using: SymmetricKey(data: keys.key), nonce: AES.GCM.Nonce(data: nonce), authenticating: header)
        else { return [] }
        let body = Array(sealed.ciphertext) + Array(sealed.tag)
        var mask = Array(body[0..<16])
        guard (try? AES.permute(&mask, key: SymmetricKey(data: keys.headerProtection))) != nil else { return [] }
        let pnOffset = header.count - 4
        header[0] ^= mask[0] & 0x0f
        for index in 0..<4 { header[pnOffset + index] ^= mask[1 + index] }
        return header + body
    }
}
