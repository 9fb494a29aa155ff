import Capture
import Flows
import Foundation
import PacketParsing
import Posix
import Reporting

extension EvidenceBundle {
    /// What `verify` found: the hashes, the capture, and whether the capture shows the recorded flows.
    public struct Check: Sendable {
        /// The `MANIFEST`'s `version` and `created`, as written.
        public var version: String?
        public var created: String?
        /// Files the `MANIFEST` lists.
        public var listedFiles = 0
        /// Missing, changed and unlisted files, and a `MANIFEST` that does not read: one line each.
        public var hashProblems: [String] = []
        /// Why the capture could not be read to its end, if it could not.
        public var captureProblem: String?
        /// Frames read from the capture.
        public var frames: Int64 = 0
        /// Flows in `flows.ndjson`, and those the capture re-derives with the same packets and bytes.
        public var recordedFlows = 0
        public var rederivedFlows = 0
        /// Recorded flows the capture does not show as recorded, and conversations of the capture
        /// that no recorded flow holds: one line each.
        public var flowProblems: [String] = []
        /// Conversations of the capture that no recorded flow holds.
        public var unrecordedConversations = 0
        /// The directory holds neither a `MANIFEST` nor any of a bundle's files.
        public var isNotABundle = false

        public var agrees: Bool { !isNotABundle && hashProblems.isEmpty && captureProblem == nil && flowProblems.isEmpty }

        /// The two summary lines: hashes, then flows.
        public var summary: [String] {
            let hashes = hashProblems.isEmpty
                ? "hashes: \(listedFiles) files ok"
                : "hashes: \(hashProblems.count) \(hashProblems.count == 1 ? "problem" : "problems") (\(listedFiles) files listed)"
            var flows = "flows: \(rederivedFlows) of \(recordedFlows) re-derived from \(EvidenceBundle.captureName) with the same packets and bytes"
            if unrecordedConversations > 0 {
                flows += "; \(unrecordedConversations) \(unrecordedConversations == 1 ? "conversation" : "conversations")"
                    + " of the capture not in \(EvidenceBundle.flowsName)"
            }
            return [hashes, flows]
        }
    }

    /// Checks every file's hash against the `MANIFEST`, replays the capture through the same
    /// pipeline as `telltale replay` (no attribution: 5-tuples, packets and bytes), and compares
    /// what it derives with `flows.ndjson`. Reads only; never throws: every problem is in the result.
    public static func verify(_ directory: String) -> Check {
        var check = Check()
        checkHashes(directory, into: &check)
        if check.isNotABundle { return check }
        let recorded = recordedConversations(directory, into: &check)
        let derived = derivedConversations(directory, into: &check)
        compare(recorded: recorded, derived: derived, into: &check)
        return check
    }

    // MARK: Hashes

    /// The `MANIFEST`'s largest size: six files' lines are a few hundred bytes.
    static let manifestLimit = 64 << 10

    static func checkHashes(_ directory: String, into check: inout Check) {
        let present = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        guard present.contains(manifestName) else {
            if present.isDisjoint(with: fileNames) {
                check.isNotABundle = true
            } else {
                check.hashProblems.append("\(manifestName): missing")
            }
            return
        }
        let path = directory + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: path), data.count <= manifestLimit,
              let text = String(data: data, encoding: .utf8)
        else {
            check.hashProblems.append("\(manifestName): unreadable, or larger than \(manifestLimit) bytes")
            return
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.first == formatLine else {
            check.hashProblems.append("\(manifestName): the first line is not '\(formatLine)'")
            return
        }
        var listed: [String: String] = [:]
        for (index, line) in lines.enumerated().dropFirst() {
            if line.hasPrefix("version ") { check.version = Sanitizer.clean(String(line.dropFirst(8))); continue }
            if line.hasPrefix("created ") { check.created = Sanitizer.clean(String(line.dropFirst(8))); continue }
            // sha256sum's format: 64 hex digits, two spaces, the name.
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].isEmpty, parts[0].count == 64,
                  parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
                  isPlainName(String(parts[2]))
            else {
                check.hashProblems.append("\(manifestName) line \(index + 1): not 'version', 'created' or 'SHA256  NAME'")
                continue
            }
            listed[String(parts[2])] = String(parts[0])
        }
        check.listedFiles = listed.count
        for name in listed.keys.sorted() {
            let shown = Sanitizer.clean(name)
            guard present.contains(name) else {
                check.hashProblems.append("\(shown): missing")
                continue
            }
            do {
                let hash = try FileDigest.sha256(ofFileAt: directory + "/" + name)
                if hash != listed[name] { check.hashProblems.append("\(shown): changed (sha256 \(hash), MANIFEST says \(listed[name] ?? ""))") }
            } catch {
                check.hashProblems.append("\(shown): \(error)")
            }
        }
        for name in fileNames where listed[name] == nil && present.contains(name) {
            check.hashProblems.append("\(name): not in \(manifestName)")
        }
        for name in present.sorted() where name != manifestName && listed[name] == nil && !fileNames.contains(name) {
            check.hashProblems.append("\(Sanitizer.clean(name)): not in \(manifestName)")
        }
    }

    /// A name inside the directory: no path, no `.` or `..`, no control characters.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && Sanitizer.clean(name) == name
    }

    // MARK: Flows

    /// Packets and bytes of one conversation (a community id) from each of its two ends.
    ///
    /// Why per community id, summed: `run` ends flows by idle timeouts measured on the wall clock and
    /// when their owner exits, so one conversation may be several recorded flows where a replay,
    /// which knows only packet times, sees one (or the other way round). The sum of packets and bytes
    /// per direction over a conversation does not depend on where it was split, and every packet is
    /// in exactly one flow on either side. Matching by start time within a tolerance would depend on
    /// the timeouts of both.
    ///
    /// The ends are ordered by their text (address, and port where the protocol has ports) rather
    /// than as local and remote: which end is this machine's depends on the addresses the recording
    /// machine had, which the verifying machine does not know. A conversation whose ends are the same
    /// (an ICMP echo to this machine's own address) has no direction to tell: both go in `first`.
    struct Conversation: Equatable {
        var first = Tally(), second = Tally()
        /// The two ends, in order (the same when the conversation has no direction to tell).
        var ends = ("", "")
        /// The recorded flows' uids (recorded side only).
        var uids: [String] = []
        var proto = ""

        struct Tally: Equatable {
            var packets: Int64 = 0
            var bytes: Int64 = 0
        }

        static func == (a: Conversation, b: Conversation) -> Bool { a.first == b.first && a.second == b.second }

        /// Counts one flow: `a` sent `fromA`, `b` sent `fromB`.
        mutating func add(_ a: String, _ fromA: Tally, _ b: String, _ fromB: Tally, proto: String) {
            if self.proto.isEmpty {
                self.proto = Sanitizer.clean(proto)
                ends = (Sanitizer.clean(min(a, b)), Sanitizer.clean(max(a, b)))
            }
            if a == b {
                first.packets += fromA.packets + fromB.packets
                first.bytes += fromA.bytes + fromB.bytes
            } else if a < b {
                first.packets += fromA.packets; first.bytes += fromA.bytes
                second.packets += fromB.packets; second.bytes += fromB.bytes
            } else {
                first.packets += fromB.packets; first.bytes += fromB.bytes
                second.packets += fromA.packets; second.bytes += fromA.bytes
            }
        }

        /// Protocol and both ends, for people.
        var label: String { "\(proto) \(ends.0) <-> \(ends.1)" }

        /// The counts each way, for people.
        var description: String {
            func counts(_ tally: Tally) -> String {
                "\(tally.packets) \(tally.packets == 1 ? "packet" : "packets"), \(tally.bytes) \(tally.bytes == 1 ? "byte" : "bytes")"
            }
            if ends.0 == ends.1 { return "\(counts(first)) both ways" }
            return "\(counts(first)) from \(ends.0), \(counts(second)) from \(ends.1)"
        }
    }

    /// An end as text: the address, with the port for protocols that have ports (ICMP's "ports"
    /// are its type and code, which differ between a request and its reply).
    static func end(_ address: String, _ port: Int, icmp: Bool) -> String {
        icmp ? address : address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// The conversations of `flows.ndjson`, by community id.
    static func recordedConversations(_ directory: String, into check: inout Check) -> [String: Conversation] {
        var conversations: [String: Conversation] = [:]
        guard let data = FileManager.default.contents(atPath: directory + "/" + flowsName) else {
            check.flowProblems.append("\(flowsName): cannot be read")
            return conversations
        }
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            check.recordedFlows += 1
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let communityID = object["community_id"] as? String, let proto = object["proto"] as? String,
                  let localAddress = object["local_addr"] as? String, let remoteAddress = object["remote_addr"] as? String,
                  let localPort = object["local_port"] as? Int, let remotePort = object["remote_port"] as? Int,
                  let bytesOut = object["bytes_out"] as? Int, let bytesIn = object["bytes_in"] as? Int,
                  let packetsOut = object["packets_out"] as? Int, let packetsIn = object["packets_in"] as? Int
            else {
                check.flowProblems.append("\(flowsName) line \(index + 1): not a flow record")
                continue
            }
            let icmp = proto == "icmp" || proto == "icmpv6"
            var conversation = conversations[communityID] ?? Conversation()
            conversation.add(
                end(localAddress, localPort, icmp: icmp), .init(packets: Int64(packetsOut), bytes: Int64(bytesOut)),
                end(remoteAddress, remotePort, icmp: icmp), .init(packets: Int64(packetsIn), bytes: Int64(bytesIn)),
                proto: proto)
            conversation.uids.append(Sanitizer.clean(object["uid"] as? String ?? "line \(index + 1)"))
            conversations[communityID] = conversation
        }
        return conversations
    }

    /// The conversations the capture shows, by community id: the frames replayed as `telltale
    /// replay` reads them, without names (they change no count).
    static func derivedConversations(_ directory: String, into check: inout Check) -> [String: Conversation] {
        var replay = Replay(names: false)
        var conversations: [String: Conversation] = [:]
        replay.run(files: [capturePath(in: directory)]) { records in
            for record in records {
                let icmp = record.isICMP
                // Ports as the rows have them: ICMP's ends are addresses only.
                let originator = end(record.originatorAddress.description, Int(record.originatorPort), icmp: icmp)
                let responder = end(record.responderAddress.description, Int(record.responderPort), icmp: icmp)
                conversations[CommunityID.of(record), default: Conversation()].add(
                    originator, .init(packets: record.originatorPackets, bytes: record.originatorBytes),
                    responder, .init(packets: record.responderPackets, bytes: record.responderBytes),
                    proto: FlowRow.protocolName(record.ipProtocol))
            }
        }
        check.frames = replay.pipeline.counters.frames
        if let problem = replay.problems.first {
            check.captureProblem = "\(captureName) cannot be read to its end: \(Sanitizer.clean(problem.error.message))"
        }
        return conversations
    }

    static func compare(recorded: [String: Conversation], derived: [String: Conversation], into check: inout Check) {
        for (communityID, conversation) in recorded.sorted(by: { $0.key < $1.key }) {
            let flows = conversation.uids.joined(separator: ", ")
            let shown = Sanitizer.clean(communityID)
            guard let seen = derived[communityID] else {
                check.flowProblems.append(
                    "flow \(flows) (\(conversation.label), community id \(shown)): not in \(captureName)")
                continue
            }
            if seen == conversation {
                check.rederivedFlows += conversation.uids.count
            } else {
                check.flowProblems.append(
                    "flow \(flows) (\(conversation.label), community id \(shown)): \(flowsName) has "
                        + "\(conversation.description); \(captureName) has \(seen.description)")
            }
        }
        for (communityID, conversation) in derived.sorted(by: { $0.key < $1.key }) where recorded[communityID] == nil {
            check.unrecordedConversations += 1
            check.flowProblems.append(
                "\(captureName) holds a conversation \(flowsName) lacks: \(conversation.label), community id \(Sanitizer.clean(communityID)), "
                    + conversation.description)
        }
    }
}
