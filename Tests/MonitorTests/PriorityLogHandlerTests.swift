import Foundation
import Logging
import Posix
import Testing
@testable import Monitor

@Suite struct PriorityLogHandlerTests {
    @Test func everyLevelHasItsSyslogPriority() {
        let expected: [(Logger.Level, Int)] = [(.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2)]
        for (level, priority) in expected { #expect(PriorityLogHandler.priority(level) == priority) }
    }

    @Test func everyLineOfAMessageCarriesThePrefixInJournalForm() {
        let text = PriorityLogHandler.line(level: .error, message: "rules broken:\na.yaml:3: bad\nb.yaml:9: worse", metadata: ["rule": "x"],
                                           format: .journal, time: Date())
        #expect(text == "<3>rules broken:\n<3>a.yaml:3: bad\n<3>b.yaml:9: worse rule=x\n")
    }

    @Test func plainLinesHaveTheLocalTimeAndTheLevel() {
        let text = PriorityLogHandler.line(level: .warning, message: "one\ntwo", metadata: [:], format: .plain, time: Date(timeIntervalSince1970: 0))
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].range(of: #"^19[67][0-9]-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} warning one$"#, options: .regularExpression) != nil, "\(lines[0])")
        #expect(lines[1].hasSuffix(" two") && lines[1].hasPrefix(" "))
    }

    @Test func autoMeansJournalOnlyWhenStandardErrorIsTheJournalStream() {
        #expect(PriorityLogHandler.Format.auto.resolved(environment: [:]) == .plain)
        #expect(PriorityLogHandler.Format.auto.resolved(environment: ["JOURNAL_STREAM": "1:2"]) == .plain)
        #expect(PriorityLogHandler.Format.auto.resolved(environment: ["JOURNAL_STREAM": "garbage"]) == .plain)
        let identity = fileIdentity(ofDescriptor: 2)
        #expect(identity != nil)
        let stream = "\(identity?.device ?? 0):\(identity?.inode ?? 0)"
        #expect(PriorityLogHandler.Format.auto.resolved(environment: ["JOURNAL_STREAM": stream]) == .journal)
        #expect(PriorityLogHandler.Format.plain.resolved(environment: ["JOURNAL_STREAM": stream]) == .plain)
    }
}
