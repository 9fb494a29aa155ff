import Flows
import Testing

@Suite struct UIDTextTests {
    @Test(arguments: [UInt64(0), 1, 61, 62, 0x7e11_7a1e, UInt64.max - 1, UInt64.max])
    func aUIDSurvivesTheTripThroughItsText(_ uid: UInt64) {
        let text = FlowRecord.uidText(uid)
        #expect(text.first == "C")
        #expect(text.count >= 12)
        #expect(FlowRecord.uid(fromText: text) == uid)
    }

    @Test func textThatIsNotAUIDParsesToNothing() {
        #expect(FlowRecord.uid(fromText: "") == nil)
        #expect(FlowRecord.uid(fromText: "C") == nil)
        #expect(FlowRecord.uid(fromText: "X123") == nil)
        #expect(FlowRecord.uid(fromText: "C12-3") == nil)
        // One digit more than a UInt64 holds.
        #expect(FlowRecord.uid(fromText: "C" + String(repeating: "z", count: 12)) == nil)
    }
}
