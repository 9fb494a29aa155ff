import Reporting
import Testing

@Suite struct TopScreenTests {
    static func sample() -> [TopEntry] {
        [
            TopEntry(key: "/usr/bin/alpha", label: "alpha", rateOut: 51_200, rateIn: 0, totalOut: 1_048_576, totalIn: 0, flows: 1,
                related: ["198.18.0.2 (internet)"], alerts: 0, unattributed: false),
            TopEntry(key: "/usr/bin/curl", label: "curl", rateOut: 10, rateIn: 2048, totalOut: 100, totalIn: 4096, flows: 2,
                related: ["telemetry.example (internet)"], alerts: 3, unattributed: false),
            TopEntry(key: "(unattributed: no-socket)", label: "(unattributed: no-socket)", rateOut: 0, rateIn: 0, totalOut: 5,
                totalIn: 0, flows: 1, related: ["10.1.1.1 (lan)"], alerts: 0, unattributed: true),
        ]
    }

    static func visibleWidth(_ line: String) -> Int {
        var n = 0, inEscape = false
        for c in line.unicodeScalars {
            if inEscape { if c.properties.isAlphabetic { inEscape = false }; continue }
            if c == "\u{1b}" { inEscape = true; continue }
            n += 1
        }
        return n
    }

    @Test(arguments: [(80, 24), (200, 50), (40, 10)])
    func everyLineFitsTheTerminal(_ width: Int, _ height: Int) {
        var status = TopStatus(source: "daemon database /var/lib/telltale/telltale.db (pid 42, read while it writes)")
        status.bytes = 1000
        status.attributedBytes = 995
        status.dropped = 7
        for colour in [false, true] {
            let screen = TopScreen(width: width, height: height, colour: colour)
            let lines = screen.lines(Self.sample(), status: status, clock: "12:00:00")
            #expect(lines.count == height)
            for line in lines { #expect(Self.visibleWidth(line) <= width, "\(line)") }
            // The whole status line where it fits, its short form where it does not (80 columns).
            let last = lines.last ?? ""
            #expect(last.contains(width >= 120 ? "coverage 99.5%" : "cov 99.5%"), "\(last)")
            if width >= 120 { #expect(last.contains("7 kernel")) } else if width >= 80 { #expect(last.contains("drops 7k 0i 0q") && !last.hasSuffix("…"), "\(last)") }
        }
    }

    /// At 80×24 the destinations keep 24 columns (the totals give way), and a 20-character name
    /// shows whole.
    @Test func at80ColumnsADestinationOf20CharactersShowsWhole() {
        var entries = Self.sample()
        entries[0].related = ["api.telemetry.test (internet)"]
        let lines = TopScreen(width: 80, height: 24, colour: false).lines(entries, status: TopStatus(source: "s"), clock: "t")
        #expect(lines[2].contains("DESTINATIONS") && !lines[2].contains("TOTAL"), "\(lines[2])")
        #expect(lines[3].contains("api.telemetry.test (int"), "\(lines[3])")
        let wide = TopScreen(width: 120, height: 24, colour: false).lines(entries, status: TopStatus(source: "s"), clock: "t")
        #expect(wide[2].contains("TOTAL OUT"))
    }

    @Test func arrowAndPagingKeysScroll() {
        var screen = TopScreen(width: 80, height: 10, colour: false)
        #expect(TopScreen.special(in: [27, 91, 66][...])?.0 == .down)
        #expect(TopScreen.special(in: [27, 79, 65][...])?.0 == .up)
        #expect(TopScreen.special(in: [27, 91, 54, 126][...])?.1 == 4)
        #expect(TopScreen.special(in: [27][...]) == nil)
        screen.handle(special: .down)
        screen.handle(special: .down)
        #expect(screen.firstRow == 2)
        screen.handle(special: .pageDown)
        #expect(screen.firstRow == 8)
        screen.handle(special: .up)
        screen.handle(special: .home)
        #expect(screen.firstRow == 0)
        #expect(screen.handle(key: UInt8(ascii: "P")) && screen.view == .process)
    }

    @Test func rowsShowRatesTotalsDestinationsAndMarkers() {
        let lines = TopScreen(width: 120, height: 12, colour: false).lines(Self.sample(), status: TopStatus(source: "own capture"), clock: "t")
        #expect(lines[0].contains("per program") && lines[0].contains("own capture"))
        #expect(lines[2].contains("PROGRAM") && lines[2].contains("OUT/s") && lines[2].contains("DESTINATIONS"))
        let alpha = lines[3]
        #expect(alpha.hasPrefix("  alpha"))
        #expect(alpha.contains("50.0 KiB") && alpha.contains("1.0 MiB") && alpha.contains("198.18.0.2 (internet)"))
        #expect(lines[4].hasPrefix("! curl"))
        #expect(lines[5].hasPrefix("? (unattributed"))
        #expect(!lines.joined().contains("\u{1b}"), "no escape sequences without colour")
    }

    @Test func coloursMarkAlertsAndUnattributedRowsOnlyWhenAllowed() {
        let lines = TopScreen(width: 120, height: 12, colour: true).lines(Self.sample(), status: TopStatus(source: "s"), clock: "t")
        #expect(lines[4].hasPrefix("\u{1b}[31m"))
        #expect(lines[5].hasPrefix("\u{1b}[33m"))
        #expect(!lines[3].contains("\u{1b}[31m"))
    }

    @Test func widerTerminalsShowMoreOfEachRow() {
        var e = Self.sample()
        e[0].related = (1...30).map { "host\($0).example (internet)" }
        let narrow = TopScreen(width: 80, height: 10, colour: false).lines(e, status: TopStatus(source: "s"), clock: "t")[3]
        let wide = TopScreen(width: 200, height: 10, colour: false).lines(e, status: TopStatus(source: "s"), clock: "t")[3]
        #expect(narrow.count <= 80 && wide.count <= 200)
        #expect(wide.components(separatedBy: ".example").count > narrow.components(separatedBy: ".example").count)
    }

    @Test func keysSwitchViewsSortFilterAndHelp() {
        var s = TopScreen(width: 80, height: 24, colour: false)
        #expect(s.handle(key: UInt8(ascii: "d")) && s.view == .destination)
        _ = s.handle(key: 9)
        #expect(s.view == .program)
        _ = s.handle(key: UInt8(ascii: "r"))
        #expect(s.view == .role)
        _ = s.handle(key: UInt8(ascii: "t"))
        #expect(s.sort == .total)
        _ = s.handle(key: UInt8(ascii: "s"))
        #expect(s.sort == .name)
        _ = s.handle(key: UInt8(ascii: "/"))
        for k in "cur".utf8 { _ = s.handle(key: k) }
        #expect(s.editingFilter && s.filter == "cur")
        _ = s.handle(key: 127)
        _ = s.handle(key: 13)
        #expect(!s.editingFilter && s.filter == "cu")
        _ = s.handle(key: 27)
        #expect(s.filter.isEmpty)
        _ = s.handle(key: UInt8(ascii: "?"))
        let help = s.lines([], status: TopStatus(source: "s"), clock: "t")
        #expect(help.contains { $0.contains("per destination") })
        _ = s.handle(key: UInt8(ascii: "x"))
        #expect(!s.showHelp)
        #expect(s.handle(key: UInt8(ascii: "q")) == false)
    }

    @Test func escapeSequencesFromTheWireAreShownNotObeyed() {
        var e = Self.sample()
        e[0].label = "evil\u{1b}]0;pwned\u{7}"
        e[0].related = ["x\u{1b}[2Jy (internet)"]
        let lines = TopScreen(width: 160, height: 10, colour: false).lines(e, status: TopStatus(source: "s"), clock: "t")
        #expect(!lines.joined().contains("\u{1b}"))
        #expect(lines[3].contains("evil\\x1b]0;pwned\\x07"))
    }

    @Test func theJSONSnapshotParsesAndCarriesEveryRow() throws {
        var status = TopStatus(source: "own capture")
        status.bytes = 10
        let text = TopEntry.snapshotJSON(Self.sample(), view: .program, status: status, started: 0, now: 1_000_000_000)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.count == 3)
        #expect(rows[0]["program"] as? String == "/usr/bin/alpha")
        #expect(rows[0]["rate_out"] as? Double == 51_200)
        #expect((rows[1]["alerts"] as? Int) == 3)
        #expect(object["source"] as? String == "own capture")
    }
}

import Foundation
