import Testing

@testable import Policy

/// The learning file as people review it and as the daemon reads it back: nothing in a program's
/// path or a name from the wire can add an entry, or reach a terminal raw.
@Suite struct BaselineFileTests {
    static func write(_ b: Baseline) -> String { b.text(notes: ["learnt from a test"], time: { String($0) }) }
    static func read(_ text: String) throws(Baseline.Problem) -> Baseline { try Baseline(parsing: text, time: { Int64($0) }) }

    @Test func aPathWithATabAndANewlineCannotInjectAPair() throws {
        var b = Baseline()
        let hostile = ProcessFacts(exe: "/tmp/x\n/usr/bin/curl\texfil.example", comm: "x")
        b.record(flow(hostile, to: "127.0.0.1"), start: 5, end: 9)
        let text = Self.write(b)
        let entries = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(entries.count == 1, "\(text)")
        #expect(entries.first?.split(separator: "\t").count == 7)
        let read = try Self.read(text)
        #expect(read.entries.count == 1)
        #expect(read.entries.values.first?.exe == "/tmp/x\n/usr/bin/curl\texfil.example")
        let curl = ProcessFacts(exe: "/usr/bin/curl", comm: "curl")
        #expect(!read.contains(flow(curl, to: "198.18.0.9", host: "exfil.example")))
        #expect(read.contains(flow(hostile, to: "127.0.0.1")))
    }

    @Test func escapesAndReorderingMarksNeverReachTheFileRaw() throws {
        var b = Baseline()
        let p = ProcessFacts(exe: "/opt/\u{1B}[2Jevil\u{202E}txt.exe", comm: "evil")
        b.record(flow(p, to: "198.18.0.1", host: "a\u{1B}]8;;http://x\u{7}.example"))
        let text = Self.write(b)
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }, "\(text.debugDescription)")
        #expect(!text.contains("\u{202E}"))
        #expect(text.contains("%1B[2Jevil%E2%80%AEtxt.exe"), "\(text.debugDescription)")
        #expect(try Self.read(text) == b)
    }

    @Test func theFileSaysWhatItIsAndWhatEachEntryMeans() throws {
        var b = Baseline()
        let ui = ProcessFacts(exe: "/usr/bin/python3.11", sha256: String(repeating: "a", count: 64), comm: "python3", program: "open-webui")
        b.record(flow(ui, to: "198.18.0.1", host: "HuggingFace.co"), start: 100, end: 200)
        b.record(flow(ui, to: "198.18.0.2", host: "huggingface.co"), start: 50, end: 150)
        let text = Self.write(b)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix(Baseline.magic) == true)
        #expect(lines.contains("# learnt from a test"))
        #expect(lines.contains { $0.hasPrefix("# key: path") })
        #expect(lines.contains("# program\texe\tsha256\tdestination\tfirst_seen\tlast_seen\tflows"))
        #expect(lines.last == "open-webui\t/usr/bin/python3.11\t\(String(repeating: "a", count: 64))\thuggingface.co\t50\t200\t2")
    }

    @Test(arguments: [
        ("/usr/bin/curl\texfil.example\n", 1, "not a baseline written by telltale rules learn"),
        ("\(Baseline.magic)\nx\t/bin/x\t-\ta.example\t1\t2\t3\n", 2, "before the '# key: path|hash' line"),
        ("\(Baseline.magic)\n# key: path\nx\t/bin/x\t-\ta.example\t1\t2\n", 3, "expected 7 tab-separated fields"),
        ("\(Baseline.magic)\n# key: path\nx\t/bin/\u{1B}x\t-\ta.example\t1\t2\t3\n", 3, "raw control character U+1B"),
        ("\(Baseline.magic)\n# key: path\nx\t/bin/x\u{202E}\t-\ta.example\t1\t2\t3\n", 3, "raw control character U+202E"),
        ("\(Baseline.magic)\n# key: path\nx\t/bin/%zz\t-\ta.example\t1\t2\t3\n", 3, "not followed by two hexadecimal digits"),
        ("\(Baseline.magic)\n# key: path\nx\t/bin/x\t-\ta.example\tsoon\t2\t3\n", 3, "must be times"),
        ("\(Baseline.magic)\n# key: sha1\n", 2, "unknown key 'sha1'"),
    ])
    func whatLearnDidNotWriteIsRefusedWithItsLine(_ text: String, _ line: Int, _ message: String) {
        do {
            _ = try Self.read(text)
            Issue.record("accepted: \(text.debugDescription)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func byHashAChangedExecutableIsANewProgramAndByPathItIsNot() throws {
        let old = ProcessFacts(exe: "/usr/bin/node", sha256: String(repeating: "1", count: 64))
        let new = ProcessFacts(exe: "/usr/bin/node", sha256: String(repeating: "2", count: 64))
        for key in Baseline.Key.allCases {
            var b = Baseline(key: key)
            b.record(flow(old, to: "198.18.0.1", host: "api.example"))
            let read = try Self.read(Self.write(b))
            #expect(read.key == key)
            #expect(read.contains(flow(new, to: "198.18.0.1", host: "api.example")) == (key == .path))
        }
    }
}
