import ArgumentParser
import FlowStore
import Monitor
import Foundation
import Posix
import Reporting

extension Telltale {
    struct Canary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Canary tokens: paste one into any app; any egress carrying it is a leak.",
            discussion: """
                A canary is a random word Telltale knows. Paste it into a chat, a document or a form of \
                any app — including apps that talk to a cloud API directly and never cross loopback. \
                When the daemon inspects content (--inspect-content), and during `run` and `infer`, a \
                flow leaving this machine that carries the token raises a critical `content/prompt-leak` \
                alert with the canary's label. Canaries live in the database; the daemon picks up new \
                ones within seconds.

                Examples:
                  sudo telltale canary new --label "pasted into my-chat-app"
                  telltale canary list
                  sudo telltale canary remove 3
                """,
            subcommands: [New.self, List.self, Remove.self]
        )

        static func openForWriting(_ path: String) throws -> FlowStore {
            do {
                return try FlowStore(path: path)
            } catch {
                Output.error("telltale: \(error)")
                if let hint = DatabaseOption.accessHint(path) { Output.error("telltale: " + hint) }
                throw ExitCode(1)
            }
        }

        struct New: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a canary and print its token.")

            @OptionGroup var database: DatabaseOption

            @Option(help: "What the canary is for (shown in its alerts), e.g. where you pasted it.")
            var label: String?

            func run() throws {
                guard let token = AlertNotice.newCanaryToken() else { throw ExitCode(1) }
                let store = try Canary.openForWriting(database.db)
                do {
                    let record = try store.insertCanary(token: token, label: label, created: SystemClock.wallNanoseconds())
                    Output.write(token + "\n")
                    Output.flush()
                    Output.error("telltale: canary \(record.id)\(label.map { " (\(Sanitizer.clean($0)))" } ?? "") stored in \(database.db); paste the token where you want to catch a leak")
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the canaries.")

            @OptionGroup var database: DatabaseOption

            @Option(name: .shortAndLong, help: "Output format: table or json.")
            var format: OutputFormat = .table

            func validate() throws {
                if format != .table && format != .json { throw ValidationError("--format: canary list prints table or json") }
            }

            func run() throws {
                let store = try database.open()
                let canaries: [CanaryRecord]
                do {
                    canaries = try store.canaries()
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                if format == .json {
                    var w = JSONWriter()
                    w.beginArray()
                    for c in canaries {
                        w.beginObject()
                        w.key("id"); w.int(Int(c.id))
                        w.key("token"); w.string(c.token)
                        w.key("label"); w.string(c.label)
                        w.key("created"); w.string(Timestamp.rfc3339(c.created))
                        w.endObject()
                    }
                    w.endArray()
                    Output.write(w.text + "\n")
                } else if canaries.isEmpty {
                    Output.write("no canaries (make one with: sudo telltale canary new --label TEXT)\n")
                } else {
                    let width = max(5, canaries.map(\.token.count).max() ?? 0)
                    var out = "ID    " + "TOKEN".padding(toLength: width, withPad: " ", startingAt: 0) + "  CREATED              LABEL\n"
                    for c in canaries {
                        out += String(c.id).padding(toLength: 6, withPad: " ", startingAt: 0)
                            + c.token.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                            + Timestamp.local(c.created).padding(toLength: 21, withPad: " ", startingAt: 0)
                            + Sanitizer.clean(c.label ?? "") + "\n"
                    }
                    Output.write(out)
                }
                Output.flush()
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a canary by its id or token.")

            @OptionGroup var database: DatabaseOption

            @Argument(help: "The canary's id (from `telltale canary list`) or its token.")
            var canary: String

            func run() throws {
                let store = try Canary.openForWriting(database.db)
                do {
                    guard try store.removeCanary(canary) else {
                        Output.error("telltale: no canary \(Sanitizer.clean(canary)) in \(database.db) (see telltale canary list)")
                        throw ExitCode(1)
                    }
                    Output.write("removed canary \(Sanitizer.clean(canary))\n")
                    Output.flush()
                } catch let error as StoreError {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
            }
        }
    }
}
