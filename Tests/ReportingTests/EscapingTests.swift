import Foundation
import Reporting
import Testing

@Suite struct EscapingTests {
    static let nasty = "a\"b\\c\nd\re\tf\u{0}g\u{1b}[31mh\u{7f}i\u{85}j\u{202e}k✓l😀"

    @Test func jsonStringsEscapeQuotesBackslashesAndControlCharacters() throws {
        var w = JSONWriter()
        w.beginObject()
        w.key("k\"ey"); w.string(Self.nasty)
        w.key("n"); w.int(-5)
        w.key("x"); w.double(.nan)
        w.key("none"); w.string(nil)
        w.key("list"); w.beginArray(); w.int(1); w.bool(true); w.null(); w.endArray()
        w.endObject()
        #expect(!w.text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f })
        let parsed = try JSONSerialization.jsonObject(with: Data(w.text.utf8)) as? [String: Any]
        let object = try #require(parsed)
        #expect(object["k\"ey"] as? String == Self.nasty)
        #expect(object["n"] as? Int == -5)
        #expect(object["x"] is NSNull)
        #expect(object["none"] is NSNull)
        #expect((object["list"] as? [Any])?.count == 3)
    }

    @Test func csvFieldsAreQuotedPerRFC4180() {
        #expect(FlowRow.csvQuote("plain") == "plain")
        #expect(FlowRow.csvQuote("a,b") == "\"a,b\"")
        #expect(FlowRow.csvQuote("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(FlowRow.csvQuote("two\nlines") == "\"two\nlines\"")
        #expect(FlowRow.csvQuote("") == "")
    }

    @Test func csvFieldsThatASpreadsheetWouldRunAreDefused() {
        #expect(FlowRow.csvQuote("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0")
        #expect(FlowRow.csvQuote("+1+1") == "'+1+1")
        #expect(FlowRow.csvQuote("@SUM(A1)") == "'@SUM(A1)")
        #expect(FlowRow.csvQuote("-2+3") == "'-2+3")
        #expect(FlowRow.csvQuote("-12") == "-12")
        #expect(FlowRow.csvQuote("\t=1+1") == "'\t=1+1")
        #expect(FlowRow.csvQuote("\r=1+1") == "\"'\r=1+1\"")
        #expect(FlowRow.csvQuote("=a,b") == "\"'=a,b\"")
    }

    @Test func theSanitizerMakesControlCharactersVisible() {
        #expect(Sanitizer.clean("host.example") == "host.example")
        #expect(Sanitizer.clean("evil\u{1b}[2Jx") == "evil\\x1b[2Jx")
        #expect(Sanitizer.clean("a\nb\tc\u{0}") == "a\\x0ab\\x09c\\x00")
        #expect(Sanitizer.clean("\u{7f}\u{9b}") == "\\x7f\\x9b")
        #expect(Sanitizer.clean("abc\u{202e}gpj.exe") == "abc\\x202egpj.exe")
        #expect(Sanitizer.clean("\u{2066}x\u{2069}") == "\\x2066x\\x2069")
        #expect(Sanitizer.clean("ünïcödé ✓ 😀") == "ünïcödé ✓ 😀")
        let cleaned = Sanitizer.clean(EscapingTests.nasty)
        #expect(!cleaned.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7f && $0.value < 0xa0) || $0.value == 0x202e })
    }
}
