import Foundation
import Testing
import TestSupport

/// What the README and --help promise about exit statuses and formats, checked on the built tool.
@Suite struct CommandSlipsTests {
    static var isRoot: Bool { getuid() == 0 }

    @Test(.enabled(if: isRoot, "needs root to become another user"))
    func runAsAnotherUserIsAnErrorOfStatusOneThatSaysWhy() throws {
        let result = try TestProcess.runCombined(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                                  BuiltExecutable.telltale, "run", "--", "true"])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("needs root"))
    }

    @Test func statusWithoutADatabaseSaysTheDaemonIsNotRunningWithStatusThree() throws {
        let dir = try ScratchDirectory.make("status")
        let text = try TestProcess.runCombined([BuiltExecutable.telltale, "status", "--db", dir + "/none.db"])
        #expect(text.status == 3, "\(text.output)")
        #expect(text.output.contains("daemon: not running (no database at"))
        let json = try TestProcess.runCombined([BuiltExecutable.telltale, "status", "--db", dir + "/none.db", "--format", "json"])
        #expect(json.status == 3)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], "\(json.output)")
        #expect(object["running"] as? Bool == false && object["database_exists"] as? Bool == false)
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.db"))  // looking did not create it
    }

    @Test func interfacesAsJSONListLoopback() throws {
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "interfaces", "--format", "json"])
        #expect(result.status == 0, "\(result.output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let list = try #require(object["interfaces"] as? [[String: Any]])
        #expect(list.contains { $0["name"] as? String == "lo" && $0["loopback"] as? Bool == true })
        #expect((object["libpcap"] as? String)?.contains("libpcap") == true)
    }

    @Test func everyExecutableHasAVersion() throws {
        for tool in ["telltale", "telltale-llama", "telltale-chat"] {
            let path = (BuiltExecutable.telltale as NSString).deletingLastPathComponent + "/" + tool
            let result = try TestProcess.runCombined([path, "--version"])
            #expect(result.status == 0, "\(tool): \(result.output)")
            #expect(result.output.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression) != nil, "\(tool): \(result.output)")
        }
    }

    @Test func chatRefusesAServerOffThisMachine() throws {
        let chat = (BuiltExecutable.telltale as NSString).deletingLastPathComponent + "/telltale-chat"
        let result = try TestProcess.runCombined([chat, "--url", "http://198.18.0.1:8080/v1", "hello"])
        #expect(result.status != 0)
        #expect(result.output.contains("on this machine"))
        let closed = try TestProcess.runCombined([chat, "--url", "http://127.0.0.1:9/v1", "hello"])
        #expect(closed.status == 1)
        #expect(closed.output.contains("cannot connect"), "\(closed.output)")
    }
}
